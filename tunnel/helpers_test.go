package tunnel

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/listen"
	"github.com/openfcs/openfcs/rtmp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp refreshes its cached Date header from one process-wide
		// goroutine started on first use.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		// fasthttp's worker-pool cleaner notices Stop only after its
		// sleep of up to MaxIdleWorkerDuration (10 s); it then exits.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// stack is the whole server side as cmd/openfcs wires it: engine, RTMP
// server, tunnel server on fiber, one Mux over a plain port and (with
// TLS) a TLS port.
type stack struct {
	eng    *instance.Manager
	rtmp   *rtmp.Server
	tun    *Server
	app    *fiber.App
	mux    *listen.Mux
	addr   string // plain port: RTMP and RTMPT
	tlsAdr string // TLS port: RTMPS and RTMPTS ("" without TLS)
	logs   *testutil.LogBuffer
}

type stackOpts struct {
	tls     bool
	session rtmp.Config
	quiet   bool // info-level log (benchmarks: no per-command lines)
}

func startStack(t testing.TB, cfg Config, o stackOpts) *stack {
	t.Helper()
	level := slog.LevelDebug
	if o.quiet {
		level = slog.LevelWarn
	}
	log, logs := testutil.Logger(t, level)
	st := &stack{logs: logs}
	st.eng = instance.NewManager(instance.Config{AppsDir: testutil.Apps(t, "live")}, log)
	st.rtmp = &rtmp.Server{Config: o.session, Logger: log, Engine: st.eng}
	st.tun = &Server{Config: cfg, Logger: log, Sessions: st.rtmp}
	st.app = fiber.New(cfg.FiberConfig())
	st.app.Use(st.tun.Handler())
	st.mux = &listen.Mux{SniffTimeout: cfg.WithDefaults().SniffTimeout, Logger: log}

	var wg sync.WaitGroup
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st.addr = ln.Addr().String()
	wg.Go(func() { _ = st.mux.Serve(ln) })
	if o.tls {
		tc, err := tlsutil.SelfSignedConfig()
		if err != nil {
			t.Fatal(err)
		}
		tln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		st.tlsAdr = tln.Addr().String()
		wg.Go(func() { _ = st.mux.Serve(tls.NewListener(tln, tc)) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	wg.Go(func() { _ = listen.ServeRTMP(ctx, st.mux.RTMP(), st.rtmp) })
	wg.Go(func() { _ = st.app.Listener(st.mux.HTTP()) })
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := st.app.ShutdownWithContext(sctx); err != nil {
			t.Errorf("fiber shutdown: %v", err)
		}
		if err := st.tun.Close(sctx); err != nil {
			t.Errorf("tunnel close: %v", err)
		}
		if err := st.rtmp.Shutdown(sctx); err != nil {
			t.Errorf("rtmp shutdown: %v", err)
		}
		cancel()
		_ = st.mux.Close()
		wg.Wait()
		st.eng.Close()
	})
	return st
}

// dialRTMP connects the project's RTMP client to rawURL; rtmpt:// and
// rtmpts:// go through a tunnel Dialer with dc, rtmps:// through TLS.
func dialRTMP(t testing.TB, rawURL string, dc DialConfig) *rtmp.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var cc rtmp.ClientConfig
	switch u.Scheme {
	case "rtmpt", "rtmpts":
		cc.Dial = DialFunc(dc)
	case "rtmps":
		cc.Dial = rtmp.DialTLS(&tls.Config{InsecureSkipVerify: true})
	}
	c, err := rtmp.Dial(testutil.Context(t, 10*time.Second), rawURL, cc)
	if err != nil {
		t.Fatalf("dial %s: %v", rawURL, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newRTMPClient runs the RTMP client over an already dialed tunnel conn
// and connects to the app of rawURL.
func newRTMPClient(t testing.TB, nc net.Conn, rawURL string) (*rtmp.Client, error) {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	c, err := rtmp.NewClient(ctx, nc, rtmp.ClientConfig{})
	if err != nil {
		return nil, err
	}
	u := mustURL(t, rawURL)
	if _, err := c.Connect(ctx, strings.TrimPrefix(u.Path, "/"), rawURL); err != nil {
		_ = c.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// Sessions let the RTMP server's merge clock write them without a
// goroutine.
var _ rtmp.BuffersTryWriter = (*session)(nil)
