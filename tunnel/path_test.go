package tunnel

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"
)

var pathCases = []struct {
	name string
	path string
	want Request
	err  error
}{
	{"Flash Player probe", "/fcs/ident2", Request{Kind: KindIdent}, nil},
	{"old probe", "/fcs/ident", Request{Kind: KindIdent}, nil},
	{"open", "/open/1", Request{Kind: KindOpen}, nil},
	{"ffmpeg send", "/send/n0-ABCDEFGHIJKLMNOP/0", Request{Kind: KindSend, ID: "n0-ABCDEFGHIJKLMNOP", Seq: 0}, nil},
	{"FMS decimal id idle", "/idle/8243198701/13", Request{Kind: KindIdle, ID: "8243198701", Seq: 13}, nil},
	{"close", "/close/abc/40", Request{Kind: KindClose, ID: "abc", Seq: 40}, nil},
	{"max uint64 seq", "/idle/a/18446744073709551615", Request{Kind: KindIdle, ID: "a", Seq: 1<<64 - 1}, nil},
	{"not tunnel: root", "/", Request{}, ErrNotTunnel},
	{"not tunnel: api", "/api/instances", Request{}, ErrNotTunnel},
	{"not tunnel: no slash", "open/1", Request{}, ErrNotTunnel},
	{"not tunnel: prefix word", "/opener/1", Request{}, ErrNotTunnel},
	{"open 2", "/open/2", Request{}, ErrBadPath},
	{"open bare", "/open", Request{}, ErrBadPath},
	{"unknown probe", "/fcs/x", Request{}, ErrBadPath},
	{"send without seq", "/send/abc", Request{}, ErrBadPath},
	{"send empty id", "/send//1", Request{}, ErrBadPath},
	{"send empty seq", "/send/abc/", Request{}, ErrBadPath},
	{"negative seq", "/idle/abc/-1", Request{}, ErrBadPath},
	{"seq overflow", "/idle/abc/18446744073709551616", Request{}, ErrBadPath},
	{"seq too long", "/idle/abc/000000000000000000001", Request{}, ErrBadPath},
	{"extra segment", "/send/abc/1/2", Request{}, ErrBadPath},
	{"space in id", "/send/a b/1", Request{}, ErrBadPath},
	{"id too long", "/idle/" + string(make([]byte, 64)) + "/1", Request{}, ErrBadPath},
}

func TestParsePath(t *testing.T) {
	for _, tc := range pathCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePath(tc.path)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParsePathAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = ParsePath("/idle/n0-ABCDEFGHIJKLMNOP/123456")
	})
	if allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}

// formatPath is the inverse of ParsePath for valid requests.
func formatPath(r Request) string {
	switch r.Kind {
	case KindIdent:
		return "/fcs/ident2"
	case KindOpen:
		return "/open/1"
	}
	return "/" + r.Kind.String() + "/" + r.ID + "/" + strconv.FormatUint(r.Seq, 10)
}

// FuzzParsePath: no panic; every path either is refused with one of the
// two errors or parses to a request that formats and parses back to
// itself.
func FuzzParsePath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, err := ParsePath(path)
		if err != nil {
			if !errors.Is(err, ErrNotTunnel) && !errors.Is(err, ErrBadPath) {
				t.Fatalf("%q: error %v is neither ErrNotTunnel nor ErrBadPath", path, err)
			}
			return
		}
		again, err := ParsePath(formatPath(r))
		if err != nil || again != r {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", path, r, formatPath(r), again, err)
		}
	})
}

// FuzzRequests drives one session of the request router with a fuzzed
// series of requests (kind, sequence number, body) and checks that it
// never panics, answers only the documented statuses with empty error
// bodies, bounds every poll answer by MaxResponseSize plus the polling
// byte, and hands the RTMP side no more than the bodies sent.
func FuzzRequests(f *testing.F) {
	f.Add([]byte{byte(KindSend), 0, 3, 'a', 'b', 'c', byte(KindIdle), 1, 0, byte(KindSend), 2, 1, 'd'})
	f.Add([]byte{byte(KindSend), 0, 1, 'a', byte(KindSend), 2, 1, 'c', byte(KindSend), 1, 1, 'b', byte(KindClose), 3, 0})
	f.Add([]byte{byte(KindIdle), 5, 0, byte(KindIdle), 5, 0, byte(KindSend), 9, 2, 'x', 'y'})
	f.Add([]byte{byte(KindOpen), 0, 0, byte(KindIdent), 0, 0, 99, 1, 1, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		s, c := newUnitServer(t, Config{MaxParked: 3, MaxResponseSize: 16})
		id, nc := openSession(t, s, c)
		_, _ = nc.Write([]byte("output queued by the RTMP side"))
		sent := 0
		for len(script) >= 3 {
			kind, seq, n := Kind(script[0]), uint64(script[1]), int(script[2])
			script = script[3:]
			n = min(n, len(script))
			body := script[:n]
			script = script[n:]
			if kind == KindSend {
				sent += len(body)
			}
			var out sliceBody
			code := s.serve(Request{Kind: kind, ID: id, Seq: seq}, body, "rtmpt", nil, nil, &out)
			switch code {
			case 200:
				if kind == KindSend || kind == KindIdle {
					if len(out.b) == 0 || len(out.b) > 17 {
						t.Fatalf("%v: 200 with %d bytes", kind, len(out.b))
					}
				}
			case 400, 404, 503:
				if len(out.b) != 0 && kind != KindOpen {
					t.Fatalf("%v: %d with a body", kind, code)
				}
			default:
				t.Fatalf("%v: status %d", kind, code)
			}
		}
		if got := len(drain(nc)); got > sent {
			t.Fatalf("the RTMP side read %d bytes of %d sent", got, sent)
		}
	})
}

// drain reads what nc has buffered, until it would block or ends.
func drain(nc net.Conn) []byte {
	var out []byte
	buf := make([]byte, 4096)
	_ = nc.SetReadDeadline(time.Now().Add(-time.Second))
	for {
		n, err := nc.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
	}
}
