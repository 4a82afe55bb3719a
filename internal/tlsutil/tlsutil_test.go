package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
)

func TestSelfSignedServesTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := WriteSelfSigned(cert, key, "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	cfg, err := ServerConfig(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool}); err == nil {
		t.Error("certificate verifies for a host it was not made for")
	}

	// A real handshake over a pipe.
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, cfg)
		done <- s.Handshake()
	}()
	c := tls.Client(b, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Close the pipe, not the TLS conns: close_notify would block on it.
	_ = a.Close()
	_ = b.Close()
}

func TestServerConfigMissingFiles(t *testing.T) {
	if _, err := ServerConfig("/nonexistent/c.pem", "/nonexistent/k.pem"); err == nil {
		t.Fatal("no error for missing files")
	}
}
