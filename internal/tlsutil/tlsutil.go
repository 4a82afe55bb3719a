// Package tlsutil makes the self-signed development certificates of
// `make run` and the tests, and loads configured ones. Production
// deployments configure a real certificate (tls.cert_file, tls.key_file).
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SelfSigned returns a self-signed ECDSA P-256 certificate valid for hosts
// (DNS names or IP addresses; default localhost, 127.0.0.1 and ::1) for
// validity (default 1 year), as PEM-encoded certificate and key.
func SelfSigned(validity time.Duration, hosts ...string) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"openfcs development"}, CommonName: hosts[0]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return certPEM, keyPEM, nil
}

// WriteSelfSigned writes a SelfSigned certificate and key to certFile and
// keyFile (key mode 0600), creating their folders.
func WriteSelfSigned(certFile, keyFile string, hosts ...string) error {
	certPEM, keyPEM, err := SelfSigned(0, hosts...)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{certFile, certPEM, 0o644}, {keyFile, keyPEM, 0o600}} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return fmt.Errorf("tlsutil: %w", err)
		}
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return fmt.Errorf("tlsutil: %w", err)
		}
	}
	return nil
}

// ServerConfig loads certFile and keyFile into a TLS configuration for a
// server (TLS 1.2+).
func ServerConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// SelfSignedConfig returns a server TLS configuration with a fresh
// in-memory SelfSigned certificate (tests).
func SelfSignedConfig(hosts ...string) (*tls.Config, error) {
	certPEM, keyPEM, err := SelfSigned(0, hosts...)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// versions maps the tls.min_version / tls.max_version spellings to
// crypto/tls constants.
var versions = map[string]uint16{
	"1.0": tls.VersionTLS10,
	"1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// ParseVersion turns "1.0", "1.1", "1.2" or "1.3" into a TLS version.
func ParseVersion(s string) (uint16, error) {
	if v, ok := versions[s]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("tlsutil: TLS version %q: want 1.0, 1.1, 1.2 or 1.3", s)
}

// ForRTMP returns a copy of cfg for a port that RTMP clients (rtmps://)
// share with HTTPS clients: TLS 1.3 session tickets go only to clients
// that offer ALPN.
//
// A TLS 1.3 server sends its session tickets after the handshake, as
// records the client must consume before the first application data.
// librtmp (Debian's rtmpdump) reads through GnuTLS, whose
// gnutls_record_recv answers such a record with GNUTLS_E_AGAIN; librtmp
// only treats -1 as an error and adds the negative count to its buffer,
// so the RTMP handshake fails and the server reads EOF where C2 should
// be. HTTP clients offer ALPN (h2, http/1.1) and keep their tickets; RTMP
// clients offer none and would never resume a session anyway.
func ForRTMP(cfg *tls.Config) *tls.Config {
	noTickets := cfg.Clone()
	noTickets.SessionTicketsDisabled = true
	out := cfg.Clone()
	out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if len(hello.SupportedProtos) == 0 {
			return noTickets, nil
		}
		return nil, nil
	}
	return out
}
