package tlsutil

import (
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
)

// CertReloader serves a certificate read from files and reads them again
// on Reload, so that a renewed certificate reaches new TLS connections
// without a restart; connections already up keep the one they agreed on.
type CertReloader struct {
	mu       sync.Mutex // serializes Reload
	certFile string
	keyFile  string
	cert     atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the pair once; an unreadable pair is an error.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload("", ""); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the pair again, from new paths when they are not empty.
// On error the certificate in use stays.
func (r *CertReloader) Reload(certFile, keyFile string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if certFile == "" {
		certFile, keyFile = r.certFile, r.keyFile
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tlsutil: %w", err)
	}
	r.certFile, r.keyFile = certFile, keyFile
	r.cert.Store(&cert)
	return nil
}

// GetCertificate is a tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Certificate returns the certificate in use.
func (r *CertReloader) Certificate() *tls.Certificate { return r.cert.Load() }
