package bridge

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/listen"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/tunnel"
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

// stack is the server side as cmd/openfcs wires it: engine, RTMP server,
// tunnel and bridge on one fiber app, one Mux over a plain port and a TLS
// port, both serving every protocol.
type stack struct {
	eng    *instance.Manager
	rtmp   *rtmp.Server
	tun    *tunnel.Server
	br     *Server
	app    *fiber.App
	mux    *listen.Mux
	addr   string // plain port
	tlsAdr string // TLS port
	logs   *testutil.LogBuffer
}

type stackOpts struct {
	bridge    Config
	inherited Inherited
	session   rtmp.Config
	media     media.Config
	loader    instance.ScriptLoader
	quiet     bool // warn-level log (benchmarks)
	// closeHijacked leaves fasthttp closing hijacked conns when their
	// handler returns (its default; cmd/openfcs keeps them).
	closeHijacked bool
}

func startStack(t testing.TB, o stackOpts) *stack {
	t.Helper()
	apps := testutil.Apps(t, "live", "guarded")
	level := slog.LevelDebug
	if o.quiet {
		level = slog.LevelWarn
	}
	log, logs := testutil.Logger(t, level)
	st := &stack{logs: logs}
	st.eng = instance.NewManager(instance.Config{AppsDir: apps, Media: o.media}, log)
	if o.loader != nil {
		st.eng.SetScriptLoader(o.loader)
	}
	st.rtmp = &rtmp.Server{Config: o.session, Logger: log, Engine: st.eng}
	tcfg := tunnel.Config{}
	st.tun = &tunnel.Server{Config: tcfg, Logger: log, Sessions: st.rtmp}
	st.br = &Server{Config: o.bridge, Logger: log, Sessions: st.rtmp, Engine: st.eng, Inherited: o.inherited}
	st.app = fiber.New(tcfg.FiberConfig())
	st.app.Server().KeepHijackedConns = !o.closeHijacked // as cmd/openfcs
	st.app.Use(st.tun.Handler())
	st.app.Use(st.br.Handler())
	st.mux = &listen.Mux{Logger: log}

	var wg sync.WaitGroup
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st.addr = ln.Addr().String()
	wg.Go(func() { _ = st.mux.Serve(ln) })
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
	ctx, cancel := context.WithCancel(context.Background())
	wg.Go(func() { _ = listen.ServeRTMP(ctx, st.mux.RTMP(), st.rtmp) })
	wg.Go(func() { _ = st.app.Listener(st.mux.HTTP()) })
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := st.br.Close(sctx); err != nil {
			t.Errorf("bridge close: %v", err)
		}
		if err := st.tun.Close(sctx); err != nil {
			t.Errorf("tunnel close: %v", err)
		}
		if err := st.rtmp.Shutdown(sctx); err != nil {
			t.Errorf("rtmp shutdown: %v", err)
		}
		if err := st.app.ShutdownWithContext(sctx); err != nil {
			t.Errorf("fiber shutdown: %v", err)
		}
		cancel()
		_ = st.mux.Close()
		wg.Wait()
		st.eng.Close()
	})
	return st
}

// url is scheme://host:port/app for the port that scheme uses.
func (st *stack) url(scheme, app string) string {
	addr := st.addr
	switch scheme {
	case "rtmps", "rtmpts", "rtmpwss":
		addr = st.tlsAdr
	}
	return scheme + "://" + addr + "/" + app
}

var insecure = &tls.Config{InsecureSkipVerify: true}

// clientConfig is the project's RTMP client set up for rawURL's scheme.
func clientConfig(t testing.TB, rawURL string) rtmp.ClientConfig {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var cc rtmp.ClientConfig
	switch u.Scheme {
	case "rtmpt", "rtmpts":
		dial, cleanup := tunnel.Dialer(tunnel.DialConfig{TLS: insecure, IdleInterval: 10 * time.Millisecond})
		t.Cleanup(cleanup)
		cc.Dial = dial
	case "rtmps":
		cc.Dial = rtmp.DialTLS(insecure)
	case "rtmpws", "rtmpwss":
		cc.Dial = DialFunc(DialConfig{TLS: insecure})
	}
	return cc
}

// dialRTMP connects the project's RTMP client to rawURL over its scheme's
// transport.
func dialRTMP(t testing.TB, rawURL string) *rtmp.Client {
	t.Helper()
	c, err := rtmp.Dial(testutil.Context(t, 10*time.Second), rawURL, clientConfig(t, rawURL))
	if err != nil {
		t.Fatalf("dial %s: %v", rawURL, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// metadata is an onMetaData payload announcing H.264 and AAC.
func metadata() []byte {
	var b []byte
	b = append(b, 0x02, 0, 10)
	b = append(b, "onMetaData"...)
	b = append(b, 0x08, 0, 0, 0, 2)
	for _, kv := range []struct {
		k string
		v float64
	}{{"videocodecid", 7}, {"audiocodecid", 10}} {
		b = append(b, 0, byte(len(kv.k)))
		b = append(b, kv.k...)
		b = append(b, 0x00)
		b = appendF64(b, kv.v)
	}
	return append(b, 0, 0, 9)
}
