package tunnel

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

// fakeForwarder records what it is asked to forward and answers for the
// owner.
type fakeForwarder struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeForwarder) Forward(_ context.Context, node, path string, body []byte) (int, []byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, node+" "+path+" "+string(body))
	f.mu.Unlock()
	return http.StatusOK, []byte("\x01owner"), nil
}

// TestForwardOtherNodesSessions: a request for a session of another node
// goes to the Forwarder with its path and body, and the owner's answer is
// the response; an unknown session of this node stays 404; a forwarded
// request is never forwarded again.
func TestForwardOtherNodesSessions(t *testing.T) {
	s, c := newUnitServer(t, Config{NodeTag: "n1"})
	f := &fakeForwarder{}
	s.Forward = f
	id, _ := openSession(t, s, c)
	if NodeOf(id) != "n1" {
		t.Fatalf("session id %q: want node tag n1", id)
	}

	out := &sliceBody{}
	if st := s.serve(Request{Kind: KindSend, ID: "n2-ABC", Seq: 4}, []byte("xyz"), "rtmpt", nil, nil, out); st != http.StatusOK {
		t.Fatalf("forwarded send: %d", st)
	}
	if string(out.b) != "\x01owner" {
		t.Fatalf("forwarded answer %q", out.b)
	}
	if len(f.calls) != 1 || f.calls[0] != "n2 /send/n2-ABC/4 xyz" {
		t.Fatalf("forwarder calls %q", f.calls)
	}
	if st := s.serve(Request{Kind: KindIdle, ID: "n1-NOSUCH", Seq: 1}, []byte{0}, "rtmpt", nil, nil, &sliceBody{}); st != http.StatusNotFound {
		t.Fatalf("unknown session of this node: %d, want 404", st)
	}
	if st, _ := s.ServeForwarded("/idle/n3-ABC/1", []byte{0}); st != http.StatusNotFound {
		t.Fatalf("forwarded request for a third node: %d, want 404", st)
	}
	if st, b := s.ServeForwarded("/idle/"+id+"/0", []byte{0}); st != http.StatusOK || len(b) == 0 {
		t.Fatalf("forwarded request for our session: %d %q", st, b)
	}
	if st, _ := s.ServeForwarded("/open/1", []byte{0}); st != http.StatusBadRequest {
		t.Fatalf("forwarded /open: %d, want 400", st)
	}
	if len(f.calls) != 1 {
		t.Fatalf("forwarder called %d times, want 1", len(f.calls))
	}
	st := s.Stats()
	if st.Requests != 2 || st.Forwarded != 1 || st.ForwardedIn != 2 {
		t.Fatalf("stats %+v: want 2 requests, 1 forwarded, 2 forwarded in", st)
	}
}
