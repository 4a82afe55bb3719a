//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/rtmp"
)

// Reload and drain (docs/operations.md#reload-and-drain).

// servedCert is the certificate a new TLS handshake with addr gets.
func servedCert(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // self-signed test pair
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

// TestSIGHUPRenewsCertificate: the certificate files are replaced and the
// server gets SIGHUP; new TLS connections get the new certificate, and
// rtmpdump, playing over RTMPS since before, carries on.
func TestSIGHUPRenewsCertificate(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := tlsutil.WriteSelfSigned(cert, key, "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, serverOpts{Config: fmt.Sprintf("tls:\n  addr: 127.0.0.1:0\n  cert_file: %s\n  key_file: %s\n  disable_http3: true\n", cert, key)})
	var tlsAddr string
	waitFor(t, 10*time.Second, "the rtmps listening line", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		tlsAddr = srv.addrs["rtmps"]
		return tlsAddr != ""
	})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the publisher to start", func() bool { return pub.frames() >= 10 })
	play := startRtmpdumpPlayer(t, tunnelURL("rtmps", tlsAddr, "live", "cam"))
	waitFor(t, 30*time.Second, "rtmpdump to play over rtmps", func() bool { return play.size() > 20000 })
	before := servedCert(t, tlsAddr)

	if err := tlsutil.WriteSelfSigned(cert, key, "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	srv.proc.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the reloaded line", func() bool {
		return len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "reloaded" })) > 0
	})
	after := servedCert(t, tlsAddr)
	if bytes.Equal(before, after) {
		t.Fatal("a TLS connection after SIGHUP got the old certificate")
	}
	// The RTMPS player from before is still there and still receiving.
	size := play.size()
	waitFor(t, 20*time.Second, "rtmpdump to keep receiving after the reload", func() bool { return play.size() > size+20000 })
	if play.exited() {
		t.Fatal("rtmpdump ended with the reload")
	}
	play.interrupt(t, 10*time.Second)
	pub.stop(t)
}

// TestSIGTERMDrainsRecordingAndSharedObjects: ffmpeg publishes to an
// application that records every publish while a client holds a changed
// persistent shared object; SIGTERM tells the client AppShutdown, the
// server exits 0 within drain_timeout, the recording plays back, and the
// shared object's value is there after a restart.
func TestSIGTERMDrainsRecordingAndSharedObjects(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	apps := filepath.Join(t.TempDir(), "applications")
	if err := os.MkdirAll(filepath.Join(apps, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	appYAML := "record:\n  live: record\nshared_objects:\n  client_persistent: true\n"
	if err := os.WriteFile(filepath.Join(apps, "live", "application.yaml"), []byte(appYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	// The flush delay is an hour: what reaches the disk is the drain's.
	const cfg = "drain_timeout: 8s\ninstance:\n  shared_objects:\n    flush_delay: 1h\n"
	srv := startServer(t, serverOpts{AppsDir: apps, Config: cfg})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "3 s of publishing", func() bool { return pub.frames() >= 75 })

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, srv.RTMPURL("live", ""), rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	so := rtmp.NewSharedObject("state", true)
	if err := so.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := so.SetProperty("answer", amf.Number(42)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the change to be acknowledged", func() bool { return so.Pending() == 0 && so.Version() > 0 })

	start := time.Now()
	srv.proc.signal(syscall.SIGTERM)
	var shutdownSeen bool
	deadline := time.After(15 * time.Second)
wait:
	for {
		select {
		case cmd := <-c.Calls:
			if cmd.Name == "onStatus" && cmd.Arg(0).Get("code").Str() == "NetConnection.Connect.AppShutdown" {
				shutdownSeen = true
			}
		case <-c.Done():
			// Both may be ready at once: take what was queued before the end.
			for {
				select {
				case cmd := <-c.Calls:
					if cmd.Name == "onStatus" && cmd.Arg(0).Get("code").Str() == "NetConnection.Connect.AppShutdown" {
						shutdownSeen = true
					}
				default:
					break wait
				}
			}
		case <-deadline:
			t.Fatal("the client was not disconnected within 15 s of SIGTERM")
		}
	}
	if !shutdownSeen {
		t.Error("the client got no NetConnection.Connect.AppShutdown before the close")
	}
	if err := srv.proc.wait(t, 20*time.Second); err != nil {
		t.Fatalf("openfcs exit after SIGTERM: %v", err)
	}
	if took := time.Since(start); took > 8*time.Second+5*time.Second {
		t.Errorf("exit took %v, drain_timeout is 8 s", took)
	}
	if len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "drained" })) == 0 {
		t.Errorf("no drained line: the clients did not all leave before the deadline")
	}

	// The recording is complete and plays.
	rec := filepath.Join(apps, "live", "streams", "_definst_", "cam.flv")
	mi := probe(t, rec)
	if mi.frames("video") < 50 || mi.decodeErrors != "" {
		t.Errorf("recording %s: %d video frames, decode errors %q", rec, mi.frames("video"), mi.decodeErrors)
	}
	pub.interrupt(t, 10*time.Second)

	// The shared object was saved by the drain: a new server has it.
	srv2 := startServer(t, serverOpts{AppsDir: apps})
	c2, err := rtmp.Dial(ctx, srv2.RTMPURL("live", ""), rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	so2 := rtmp.NewSharedObject("state", true)
	if err := so2.Connect(ctx, c2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the stored value", func() bool { return so2.Get("answer").Num() == 42 })
	if !strings.Contains(srv.proc.stderr.String()+strings.Join(srv.lines, "\n"), "draining") {
		t.Error("no draining line")
	}
}
