package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Live trace() output of an instance's script, for the console's app
// inspector: the script host hands every line to Traces.Publish (on the
// instance's loop: it must not block), and each event-stream request
// subscribed to that instance gets it. A subscriber that does not keep up
// loses lines, counted and reported, never the script's time.

// Traces fans trace lines out to subscribers. The zero value is ready.
type Traces struct {
	mu   sync.Mutex
	subs map[string]map[*traceSub]struct{} // "app/inst" -> subscribers
	n    int
}

type traceSub struct {
	ch      chan traceLine
	dropped int // lines lost to a full channel; mu of Traces
}

type traceLine struct {
	At   time.Time `json:"at,omitzero"` // zero for the lines kept from before the stream
	Text string    `json:"text"`
}

const (
	traceBuffer  = 256 // lines queued per subscriber
	maxTraceSubs = 32  // event streams open at once, every instance together
)

// Publish hands line, written by instance app/inst's script, to its
// subscribers. It never blocks.
func (t *Traces) Publish(app, inst, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := traceLine{At: time.Now().UTC(), Text: line}
	for s := range t.subs[app+"/"+inst] {
		select {
		case s.ch <- l:
		default:
			s.dropped++
		}
	}
}

func (t *Traces) subscribe(key string) (*traceSub, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n >= maxTraceSubs {
		return nil, false
	}
	if t.subs == nil {
		t.subs = map[string]map[*traceSub]struct{}{}
	}
	if t.subs[key] == nil {
		t.subs[key] = map[*traceSub]struct{}{}
	}
	s := &traceSub{ch: make(chan traceLine, traceBuffer)}
	t.subs[key][s] = struct{}{}
	t.n++
	return s, true
}

func (t *Traces) unsubscribe(key string, s *traceSub) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.subs[key], s)
	if len(t.subs[key]) == 0 {
		delete(t.subs, key)
	}
	t.n--
}

func (t *Traces) takeDropped(s *traceSub) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := s.dropped
	s.dropped = 0
	return n
}

// serveTrace is GET .../instances/{app}/{inst}/trace: a server-sent event
// stream of the instance's trace lines, the ones kept so far first
// (event "trace", data {"at": ..., "text": ...}), then live ones;
// "dropped" events count lines lost while the reader lagged. It ends when
// the client goes or the server shuts down.
func (s *Server) serveTrace(w http.ResponseWriter, r *http.Request) {
	in := s.Engine.Lookup(r.PathValue("app"), r.PathValue("inst"))
	if in == nil {
		writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("instance %s/%s is not loaded", r.PathValue("app"), r.PathValue("inst"))})
		return
	}
	key := in.App + "/" + in.Name
	sub, ok := s.Traces.subscribe(key)
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"too many trace streams open"})
		return
	}
	defer s.Traces.unsubscribe(key, sub)
	// An event stream lives longer than admin.request_timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if sv, ok := in.Script().(scriptView); ok {
		for _, l := range sv.Traces() {
			if !send("trace", traceLine{Text: l}) {
				return
			}
		}
	}
	if !send("ready", map[string]string{"instance": key}) {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case l := <-sub.ch:
			if !send("trace", l) {
				return
			}
			if n := s.Traces.takeDropped(sub); n > 0 && !send("dropped", map[string]int{"lines": n}) {
				return
			}
		case <-keepalive.C:
			_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}
