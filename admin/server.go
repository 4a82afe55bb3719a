package admin

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/ssas"
	"github.com/openfcs/openfcs/tunnel"
	"github.com/openfcs/openfcs/webrtc"
)

// Engine is what the admin API needs of the engine. *instance.Manager
// implements it.
type Engine interface {
	Apps() ([]string, error)
	Instances() []*instance.Instance
	Lookup(app, inst string) *instance.Instance
	AppCounters(app string) instance.CountersSnapshot
	MediaTotals() media.TotalsSnapshot
	Unload(app, inst string) []string
	Reload(app, inst string) []string
}

// Counters are the transports' counters, read on each request. A nil
// function reads as zero counters.
type Counters struct {
	RTMP    func() rtmp.Stats
	Tunnel  func() tunnel.Stats
	Bridge  func() bridge.Stats
	WebRTC  func() webrtc.Stats
	Scripts func() ssas.ScriptStats
	Process func() ProcessStats
	// Cluster, when set, gives this node's cluster counters (a value
	// that encodes to JSON; docs/cluster.md#streams).
	Cluster func() any
}

// ProcessStats are the process's resources, what a soak test watches
// for leaks.
type ProcessStats struct {
	// RSSBytes is the resident memory and OpenFDs the open descriptors
	// (-1 where /proc is not there).
	RSSBytes int64 `json:"rss_bytes"`
	// HeapLiveBytes is the heap the last GC found in use and GCs the
	// cycles so far: the resident size lags behind frees (the runtime
	// returns memory to the system over minutes), these do not.
	HeapLiveBytes uint64 `json:"heap_live_bytes"`
	GCs           uint64 `json:"gcs"`
	OpenFDs       int    `json:"open_fds"`
	// Sockets are those the public ports hold, being sniffed included;
	// PendingBytes the bytes held for RTMP messages still arriving.
	Sockets      int   `json:"sockets"`
	PendingBytes int64 `json:"pending_bytes"`
}

// Server serves the admin routes. Set the fields, then call Handler once.
type Server struct {
	Config   Config
	Logger   *slog.Logger
	Engine   Engine
	Counters Counters
	// Version is reported by getServerStats.
	Version string
	// Ready reports whether the server takes new clients (false while it
	// drains); /readyz answers 503 when it is false. Nil: always ready.
	Ready func() bool
	// Routes are served behind the token besides the API, by pattern
	// (http.ServeMux syntax): "/metrics".
	Routes map[string]http.Handler
	// Traces carries scripts' trace() lines to the console's event
	// streams; wire ssas.Host.OnTrace to Traces.Publish.
	Traces Traces

	cfg     Config
	start   time.Time
	rates   rates
	cpu     cpuSampler
	failLog rateLimited            // login failures: one log line a second at most
	token   atomic.Pointer[[]byte] // the token in force (SetToken)
	// restPatterns are the REST routes registered, for the test that
	// keeps docs/admin-api.yaml equal to them.
	restPatterns []string
	done         chan struct{} // closed by Close: event streams end
	closeOnce    sync.Once
}

// Close ends the event streams, so that an http.Server's Shutdown does
// not wait for them.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.done != nil {
			close(s.done)
		}
	})
}

// Handler returns the admin routes: /healthz and /readyz without the
// token, everything else behind it.
func (s *Server) Handler() http.Handler {
	s.cfg = s.Config.WithDefaults()
	s.SetToken(s.cfg.Token)
	s.done = make(chan struct{})
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.start = time.Now()
	s.cpu.usage(s.start) // the first getServerStats reports the usage since the start
	open := http.NewServeMux()
	open.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	open.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if s.Ready != nil && !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("draining\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	guarded := http.NewServeMux()
	s.fmsRoutes(guarded)
	s.restRoutes(guarded)
	guarded.HandleFunc("GET "+apiPrefix+"/instances/{app}/{inst}/trace", s.serveTrace)
	s.restPatterns = append(s.restPatterns, "GET "+apiPrefix+"/instances/{app}/{inst}/trace")
	for pattern, h := range s.Routes {
		guarded.Handle(pattern, h)
	}
	consoleRoutes(open)
	auth := s.authorize(guarded)
	open.Handle("/", auth)
	return open
}

// authorize lets a request through with the token as a bearer token, or
// with auser and apswd (query or form) naming the administrator and the
// token as FMS clients send them.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want := *s.token.Load(); len(want) > 0 && s.credentialsOK(r, want) {
			next.ServeHTTP(w, r)
			return
		}
		if s.failLog.allow() {
			s.Logger.Warn("admin: request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "reason", "bad or missing token")
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="openfcs admin"`)
		writeResult(w, http.StatusUnauthorized, failure(codeLoginFailed, "Administrator login failed."))
	})
}

func (s *Server) credentialsOK(r *http.Request, want []byte) bool {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), want) == 1
	}
	// FMS-style: auser/apswd in the query or an urlencoded form body.
	// ParseForm reads at most 10 MB of body; the listener's timeouts
	// bound the time.
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return false
	}
	user, pass := r.Form.Get("auser"), r.Form.Get("apswd")
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.User)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), want) == 1
	return userOK && passOK
}

// SetToken replaces the token (a configuration reload); requests already
// admitted carry on. An empty token refuses every request.
func (s *Server) SetToken(t Secret) {
	b := []byte(t)
	s.token.Store(&b)
}

// HTTPServer returns an http.Server for the admin listener with the
// configured timeouts. Server-sent event handlers clear their own write
// deadline.
func (s *Server) HTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	cfg := s.Config.WithDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.RequestTimeout,
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout,
		IdleTimeout:       2 * cfg.RequestTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// result is the envelope of every FMS command's answer, as the FMS
// Administration API's HTTP answers shape it (level, code, timestamp,
// data), in JSON.
type result struct {
	Level       string `json:"level"`
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
	Timestamp   string `json:"timestamp"`
	Data        any    `json:"data,omitempty"`
}

func writeResult(w http.ResponseWriter, code int, res result) {
	res.Timestamp = time.Now().UTC().Format(time.RFC3339)
	writeJSON(w, code, res)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// rateLimited allows one event a second.
type rateLimited struct {
	mu   sync.Mutex
	last time.Time
}

func (l *rateLimited) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.last) >= time.Second {
		l.last = now
		return true
	}
	return false
}
