//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/sharedobject"
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
// application that records every publish, rtmpdump and ffmpeg over
// RTMPT play the stream, and
// two clients of the project hold a persistent shared object, one of
// them advertising E-RTMP's capsEx Reconnect. The object is changed
// several times, the last change right before SIGTERM. The server must
// exit 0 within drain_timeout; the E-RTMP client gets
// NetConnection.Connect.ReconnectRequest then AppShutdown, the other
// AppShutdown; rtmpdump is disconnected; the recording decodes without
// error and holds every video frame ffmpeg sent up to the stop, in
// order; application.onAppStop runs; the stored object (written by the
// drain: the save delay is an hour) holds the clients' last change and
// onAppStop's, and a new server serves them.
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
	// onAppStop leaves its mark in the persistent object: it must run,
	// and before the object is saved.
	const mainASC = `application.onAppStop = function (info) {
	SharedObject.get("state", true).setProperty("stoppedBy", info.code);
};
`
	if err := os.WriteFile(filepath.Join(apps, "live", "main.asc"), []byte(mainASC), 0o644); err != nil {
		t.Fatal(err)
	}
	// The flush delay is an hour: what reaches the disk is the drain's.
	const drainTimeout = 8 * time.Second
	cfg := fmt.Sprintf("drain_timeout: %s\ninstance:\n  shared_objects:\n    flush_delay: 1h\n", drainTimeout)
	srv := startServer(t, serverOpts{AppsDir: apps, Config: cfg})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "3 s of publishing", func() bool { return pub.frames() >= 75 })
	play := startRtmpdumpPlayer(t, srv.RTMPURL("live", "cam"))
	tunneled := startFFmpegPlayerOpts(t, "rtmpt", tunnelURL("rtmpt", srv.httpAddr, "live", "cam"))
	waitFor(t, 30*time.Second, "rtmpdump and ffmpeg over RTMPT to play", func() bool {
		return play.size() > 20000 && tunneled.size() > 20000
	})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dialSO := func(caps int) (*rtmp.Client, *rtmp.SharedObject) {
		c, err := rtmp.Dial(ctx, srv.RTMPURL("live", ""), rtmp.ClientConfig{CapsEx: caps})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		so := rtmp.NewSharedObject("state", true)
		if err := so.Connect(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c, so
	}
	eRTMP, so := dialSO(0x01)
	legacy, _ := dialSO(0)
	for i := 1; i <= 42; i++ {
		if err := so.SetProperty("answer", amf.Number(float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the last change to be acknowledged", func() bool { return so.Pending() == 0 && so.Get("answer").Num() == 42 })
	lastVersion := so.Version()

	// ffmpeg's last progress report before the signal: frames it had
	// sent by then (it reports twice a second, so this is a lower bound).
	sentBefore := pub.frames()
	start := time.Now()
	srv.proc.signal(syscall.SIGTERM)
	// statuses collects the onStatus codes a client gets until it is closed.
	statuses := func(c *rtmp.Client) []string {
		var got []string
		take := func(cmd *message.Command) {
			if cmd.Name == "onStatus" {
				got = append(got, cmd.Arg(0).Get("code").Str())
			}
		}
		deadline := time.After(15 * time.Second)
		for {
			select {
			case cmd := <-c.Calls:
				take(cmd)
			case <-c.Done():
				// Both may be ready at once: take what was queued before the end.
				for {
					select {
					case cmd := <-c.Calls:
						take(cmd)
					default:
						return got
					}
				}
			case <-deadline:
				t.Fatalf("the client was not disconnected within 15 s of SIGTERM (statuses %v)", got)
			}
		}
	}
	if got := statuses(eRTMP); !slices.Equal(got, []string{"NetConnection.Connect.ReconnectRequest", "NetConnection.Connect.AppShutdown"}) {
		t.Errorf("the E-RTMP client got %v, want ReconnectRequest then AppShutdown", got)
	}
	if got := statuses(legacy); !slices.Equal(got, []string{"NetConnection.Connect.AppShutdown"}) {
		t.Errorf("the client without capsEx got %v, want AppShutdown only", got)
	}
	if err := srv.proc.wait(t, 20*time.Second); err != nil {
		t.Fatalf("openfcs exit after SIGTERM: %v", err)
	}
	took := time.Since(start)
	if took > drainTimeout {
		t.Errorf("exit took %v, drain_timeout is %v", took, drainTimeout)
	}
	t.Logf("SIGTERM to exit 0: %v", took.Round(time.Millisecond))
	drainLines := srv.findLogs(func(l map[string]any) bool { return l["msg"] == "draining" })
	stopLines := srv.findLogs(func(l map[string]any) bool { return l["msg"] == "stopped" })
	if len(drainLines) != 1 || len(stopLines) != 1 {
		t.Fatalf("%d draining and %d stopped lines, want one each", len(drainLines), len(stopLines))
	}
	d, st := drainLines[0], stopLines[0]
	// Clients: the publisher, the two players and the two shared-object clients.
	if d["clients"] != 5.0 || d["reconnect_requested"] != 1.0 || d["recordings"] != 1.0 || d["rtmpt_sessions"] != 1.0 {
		t.Errorf("draining line %v: want 5 clients, 1 asked to reconnect, 1 recording, 1 RTMPT session", d)
	}
	if st["clients_cut"] != 0.0 || st["recordings_open"] != 0.0 || st["shared_objects_saved"].(float64) < 1 {
		t.Errorf("stopped line %v: want no client cut, no recording open, the shared object saved", st)
	}
	for _, p := range []*player{play, tunneled} {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s still runs 10 s after the server stopped", p.name)
			p.interrupt(t, 10*time.Second)
		}
	}

	// The recording is whole: it decodes without error and its video is
	// what ffmpeg sent, from the first frame, with none missing or
	// changed, up to the stop.
	pub.interrupt(t, 10*time.Second)
	rec := filepath.Join(apps, "live", "streams", "_definst_", "cam.flv")
	mi := probe(t, rec)
	if mi.decodeErrors != "" {
		t.Errorf("recording %s: decode errors %q", rec, mi.decodeErrors)
	}
	sent := probePackets(t, pub.copyPath).packetsOf("video")
	got := mi.packetsOf("video")
	// The drain closes the publisher's connection: what was still in its
	// socket then (on a loaded machine, a frame or two the server had not
	// read yet) is after the stop. 5 frames is 200 ms of them.
	const inFlight = 5
	if len(got) < sentBefore-inFlight || len(got) > len(sent) {
		t.Fatalf("recording has %d video packets; ffmpeg had sent %d before SIGTERM, %d in all", len(got), sentBefore, len(sent))
	}
	for i := range got {
		if got[i].Size != sent[i].Size || got[i].Flags != sent[i].Flags {
			t.Fatalf("recording video packet %d is %d bytes %q, ffmpeg sent %d bytes %q: a frame is missing or changed",
				i, got[i].Size, got[i].Flags, sent[i].Size, sent[i].Flags)
		}
	}
	if mi.frames("video") != len(got) {
		t.Errorf("recording: %d video packets, %d decoded frames", len(got), mi.frames("video"))
	}
	t.Logf("recording: %d video frames, all decoded; ffmpeg had reported %d before SIGTERM and sent %d until it noticed the close",
		len(got), sentBefore, len(sent))

	// The stored object is the last change's: the drain wrote it.
	store := &sharedobject.FileStore{Dir: filepath.Join(apps, "live", "sharedobjects", "_definst_")}
	snap, err := store.Load("state")
	if err != nil {
		t.Fatalf("the shared object's file: %v", err)
	}
	// The clients' last change, then onAppStop's.
	// The value, not the client's version, identifies the last change:
	// the client's view of the version can trail the server's when the
	// acknowledgements of a burst come in fewer messages.
	answer, stoppedBy := uint32(0), uint32(0)
	var answerValue []byte
	for _, sl := range snap.Slots {
		switch sl.Key {
		case "answer":
			answer, answerValue = sl.Version, sl.Value
		case "stoppedBy":
			stoppedBy = sl.Version
		}
	}
	last, _ := amf.AppendAMF0(nil, amf.Number(42))
	if !bytes.Equal(answerValue, last) || answer < lastVersion || stoppedBy <= answer {
		t.Errorf("stored slots %+v: want answer = 42 (the last change, version %d or later) and stoppedBy after it", snap.Slots, lastVersion)
	}

	// A new server serves the stored value.
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
	waitFor(t, 10*time.Second, "the stored values", func() bool {
		return so2.Get("answer").Num() == 42 && so2.Get("stoppedBy").Str() == "Application.Shutdown"
	})
}

// stallConn is a connection whose reads stop once stall is closed, as a
// client that hangs: what the server sends it piles up in the kernel's
// buffers, then in the server's queue.
type stallConn struct {
	net.Conn
	stall  chan struct{}
	closed chan struct{}
	once   sync.Once
}

func (c *stallConn) Read(b []byte) (int, error) {
	select {
	case <-c.stall:
		<-c.closed
		return 0, net.ErrClosed
	default:
		return c.Conn.Read(b)
	}
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// h3Get is GET https://addr/path over HTTP/3 on a new QUIC connection.
func h3Get(ctx context.Context, addr, path string) (int, error) {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // self-signed test pair
	defer tr.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+path, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TestSecondSIGTERMExitsAtOnce: a client that stopped reading holds
// megabytes of shared-object updates, so its AppShutdown cannot be
// flushed and the drain (drain_timeout 60 s) waits for it. Meanwhile no
// port accepts: RTMP, HTTP and RTMPS refuse TCP connections, HTTP/3
// refuses new QUIC connections, /readyz answers 503. A second SIGTERM
// ends the process at once, with status 1 and one line saying so.
func TestSecondSIGTERMExitsAtOnce(t *testing.T) {
	t.Parallel()
	// The stalled client's queue may hold what the kernel does not.
	srv := startTunnelServer(t, "drain_timeout: 60s\nsession:\n  write_timeout: 2m\n  max_queued_bytes: 67108864\n")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if code, err := h3Get(ctx, srv.h3Addr, "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("HTTP/3 before the drain: %d %v", code, err)
	}
	stallClient(ctx, t, srv.server)

	srv.proc.signal(syscall.SIGTERM)
	waitFor(t, 10*time.Second, "the draining line", func() bool {
		return len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "draining" })) > 0
	})
	for proto, addr := range map[string]string{"rtmp": srv.rtmpAddr, "http": srv.httpAddr, "rtmps": srv.tlsAddr} {
		if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
			c.Close()
			t.Errorf("the %s port accepted a connection while draining", proto)
		}
	}
	if code, err := h3Get(ctx, srv.h3Addr, "/healthz"); err == nil {
		t.Errorf("HTTP/3 answered %d while draining", code)
	}
	if resp, err := http.Get("http://" + srv.adminAddr + "/readyz"); err != nil {
		t.Errorf("/readyz while draining: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/readyz answered %d while draining, want 503", resp.StatusCode)
		}
	}
	if srv.proc.exited() {
		t.Fatalf("the server did not wait for the stalled client: %v", srv.proc.err)
	}
	second := time.Now()
	srv.proc.signal(syscall.SIGTERM)
	select {
	case <-srv.proc.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit within 10 s of the second SIGTERM")
	}
	t.Logf("second SIGTERM to exit: %v", time.Since(second).Round(time.Millisecond))
	ee, ok := errors.AsType[*exec.ExitError](srv.proc.err)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit after the second SIGTERM: %v, want status 1", srv.proc.err)
	}
	if len(srv.findLogs(func(l map[string]any) bool {
		return strings.HasPrefix(fmt.Sprint(l["msg"]), "second signal") && l["clients"] == 1.0
	})) != 1 {
		t.Error("no second-signal line naming the 1 client left")
	}
	srv.proc.err = nil // status 1 is what this test wants; the harness's cleanup expects 0
}

// stallClient connects a client of the project that then stops reading,
// and makes the server queue about 22 MB of shared-object updates for it
// (6 objects of 4 × 900 KB, each under the 4 MiB object limit, each value
// under session.amf.max_string_len): more than loopback's socket buffers
// hold, so a reply queued behind them is never flushed. The server needs
// session.max_queued_bytes above that.
func stallClient(ctx context.Context, t *testing.T, srv *server) {
	t.Helper()
	sc := &stallConn{stall: make(chan struct{}), closed: make(chan struct{})}
	hung, err := rtmp.Dial(ctx, srv.RTMPURL("live", ""), rtmp.ClientConfig{Dial: func(ctx context.Context, u *url.URL) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", u.Host)
		sc.Conn = nc
		return sc, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hung.Close() })
	writer, err := rtmp.Dial(ctx, srv.RTMPURL("live", ""), rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = writer.Close() })
	const objects = 6
	var sos []*rtmp.SharedObject
	for i := range objects {
		name := fmt.Sprint("big", i)
		if err := rtmp.NewSharedObject(name, false).Connect(ctx, hung); err != nil {
			t.Fatal(err)
		}
		so := rtmp.NewSharedObject(name, false)
		if err := so.Connect(ctx, writer); err != nil {
			t.Fatal(err)
		}
		sos = append(sos, so)
	}
	close(sc.stall)
	blob := strings.Repeat("x", 900<<10)
	for _, so := range sos {
		for i := range 4 {
			if err := so.SetProperty(fmt.Sprint("slot", i), amf.String(blob)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, "the change to be acknowledged", func() bool { return so.Pending() == 0 })
		}
	}
}

// TestDrainTimeoutCutsStalledClient: with a client that cannot be told
// (it stopped reading), the drain waits drain_timeout (3 s here), then
// closes it and the server exits 0; the stopped line counts it as cut.
func TestDrainTimeoutCutsStalledClient(t *testing.T) {
	t.Parallel()
	const drainTimeout = 3 * time.Second
	srv := startServer(t, serverOpts{Config: fmt.Sprintf("drain_timeout: %s\nsession:\n  write_timeout: 2m\n  max_queued_bytes: 67108864\n", drainTimeout)})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stallClient(ctx, t, srv)
	start := time.Now()
	srv.proc.signal(syscall.SIGTERM)
	if err := srv.proc.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	took := time.Since(start)
	t.Logf("SIGTERM to exit 0 with a stalled client: %v (drain_timeout %v)", took.Round(time.Millisecond), drainTimeout)
	// The drain waits for the client until a fifth of drain_timeout is
	// left, then shutdown closes it; a loaded machine adds its share.
	if took < drainTimeout*4/5 || took > drainTimeout+2*time.Second {
		t.Errorf("exit %v after SIGTERM, want about drain_timeout %v (at most 2 s more)", took, drainTimeout)
	}
	stop := srv.findLogs(func(l map[string]any) bool { return l["msg"] == "stopped" })
	if len(stop) != 1 || stop[0]["clients_cut"] != 1.0 {
		t.Errorf("stopped lines %v, want one with clients_cut 1", stop)
	}
}
