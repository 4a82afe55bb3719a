package tlsutil

import (
	"bytes"
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
)

// A reloaded pair reaches the next handshake; a broken one leaves the old.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := WriteSelfSigned(cert, key); err != nil {
		t.Fatal(err)
	}
	r, err := NewCertReloader(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
	served := func() []byte {
		t.Helper()
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() { _ = tls.Server(a, conf).Handshake() }()
		c := tls.Client(b, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // self-signed test pair
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	first := served()
	if err := WriteSelfSigned(cert, key); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload("", ""); err != nil {
		t.Fatal(err)
	}
	second := served()
	if bytes.Equal(first, second) {
		t.Fatal("the handshake after Reload served the old certificate")
	}
	if err := r.Reload(filepath.Join(dir, "missing.pem"), key); err == nil {
		t.Fatal("a missing file reloaded")
	}
	if !bytes.Equal(served(), second) {
		t.Fatal("a failed Reload changed the certificate")
	}
}
