package instance

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openfcs/openfcs/status"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// accessManager is a manager over one application "live" whose
// application.yaml is yaml.
func accessManager(t *testing.T, yaml string) *Manager {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	if yaml != "" {
		if err := os.WriteFile(filepath.Join(dir, "live", AppConfigFile), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := NewManager(Config{AppsDir: dir}, slog.New(slog.DiscardHandler))
	t.Cleanup(m.Close)
	return m
}

func token(t *testing.T, secret string, claims AccessClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exp(d time.Duration) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(d))}
}

func wantAccessCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Errorf("%s: %v, want allowed", what, err)
		}
		return
	}
	se, ok := errors.AsType[*status.Error](err)
	if !ok || se.Code != code || !errors.Is(err, ErrAccessDenied) {
		t.Errorf("%s: %v, want a %s access refusal", what, err, code)
	}
}

// No access section: the demo live application takes everyone.
func TestAccessNoneConfigured(t *testing.T) {
	m := accessManager(t, "")
	in, c, err := m.Connect("live", "_definst_", ClientInfo{IP: "203.0.113.9"})
	if err != nil {
		t.Fatal(err)
	}
	wantAccessCode(t, "publish", in.CheckPublish(c, PublishRequest{Stream: "cam"}), "")
	wantAccessCode(t, "play", in.CheckPlay(c, "cam"), "")
}

func TestAccessKeys(t *testing.T) {
	m := accessManager(t, "access:\n  publish_keys: [pk1, pk2]\n  play_keys: [vk1]\n")
	in, c, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what, query, code string
	}{
		{"publish key pk2", "key=pk2", ""},
		{"publish no key", "", status.PublishBadName},
		{"publish wrong key", "key=pk3", status.PublishBadName},
		{"publish play key", "key=vk1", status.PublishBadName},
	} {
		wantAccessCode(t, tc.what, in.CheckPublish(c, PublishRequest{Stream: "cam", Query: tc.query}), tc.code)
	}
	wantAccessCode(t, "play key", in.CheckPlayQuery(c, "cam", "key=vk1"), "")
	wantAccessCode(t, "play without", in.CheckPlayQuery(c, "cam", ""), status.PlayFailed)
	// A key in the connect URL's query counts for every stream.
	in2, c2, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1", Query: "key=vk1"})
	if err != nil {
		t.Fatal(err)
	}
	wantAccessCode(t, "connect-query play key", in2.CheckPlay(c2, "cam"), "")
}

func TestAccessJWT(t *testing.T) {
	m := accessManager(t, "access:\n  jwt:\n    secret: "+testSecret+"\n    publish: true\n    play: true\n")
	in, c, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, AccessClaims{RegisteredClaims: exp(time.Hour)}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, tc := range []struct {
		what, tok, code string
	}{
		{"valid", token(t, testSecret, AccessClaims{RegisteredClaims: exp(time.Hour)}), ""},
		{"claims match", token(t, testSecret, AccessClaims{RegisteredClaims: exp(time.Hour), App: "live", Stream: "ca*", Action: "publish"}), ""},
		{"expired", token(t, testSecret, AccessClaims{RegisteredClaims: exp(-time.Hour)}), status.PublishBadName},
		{"no expiry", token(t, testSecret, AccessClaims{}), status.PublishBadName},
		{"other secret", token(t, strings.Repeat("x", 32), AccessClaims{RegisteredClaims: exp(time.Hour)}), status.PublishBadName},
		{"alg none", none, status.PublishBadName},
		{"other stream", token(t, testSecret, AccessClaims{RegisteredClaims: exp(time.Hour), Stream: "other"}), status.PublishBadName},
		{"other app", token(t, testSecret, AccessClaims{RegisteredClaims: exp(time.Hour), App: "vod"}), status.PublishBadName},
		{"play token", token(t, testSecret, AccessClaims{RegisteredClaims: exp(time.Hour), Action: "play"}), status.PublishBadName},
		{"garbage", "abc.def.ghi", status.PublishBadName},
		{"none", "", status.PublishBadName},
	} {
		err := in.CheckPublish(c, PublishRequest{Stream: "cam", Query: "token=" + tc.tok})
		wantAccessCode(t, tc.what, err, tc.code)
	}
	err = in.CheckPublish(c, PublishRequest{Stream: "cam", Query: "token=" + token(t, testSecret, AccessClaims{RegisteredClaims: exp(-time.Hour)})})
	if err == nil || !strings.Contains(err.Error(), "token expired") {
		t.Errorf("expired token: %v, want the reason named", err)
	}
	wantAccessCode(t, "play", in.CheckPlayQuery(c, "cam", "token="+token(t, testSecret, AccessClaims{RegisteredClaims: exp(time.Hour), Action: "play"})), "")
}

func TestAccessAddresses(t *testing.T) {
	m := accessManager(t, "access:\n  allow: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7]\n  deny: [10.9.0.0/16]\n")
	for _, tc := range []struct {
		ip string
		ok bool
	}{
		{"10.1.2.3", true}, {"10.9.1.1", false}, {"192.0.2.7", true}, {"192.0.2.8", false},
		{"2001:db8::1", true}, {"::ffff:10.1.2.3", true}, {"127.0.0.1", false}, {"", false}, {"garbage", false},
	} {
		_, _, err := m.Connect("live", "_definst_", ClientInfo{IP: tc.ip})
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want allowed=%v", tc.ip, err, tc.ok)
		}
		if err != nil {
			if ae, ok := errors.AsType[*AccessError](err); !ok || ae.Code != status.ConnectRejected {
				t.Errorf("%q: %v, want a ConnectRejected access error", tc.ip, err)
			}
		}
	}
}

// hookServer answers with the status its decide function gives and
// records what it was asked.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []HookRequest
}

func newHook(t *testing.T, decide func(HookRequest) int) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req HookRequest
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
			w.WriteHeader(400)
			return
		}
		h.mu.Lock()
		h.reqs = append(h.reqs, req)
		h.mu.Unlock()
		w.WriteHeader(decide(req))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) actions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.reqs {
		out = append(out, r.Action+":"+r.Stream)
	}
	return out
}

func TestAccessHook(t *testing.T) {
	h := newHook(t, func(r HookRequest) int {
		if r.Stream == "bad" || r.ClientIP == "192.0.2.66" {
			return http.StatusForbidden
		}
		return http.StatusNoContent
	})
	m := accessManager(t, "access:\n  hook:\n    url: "+h.URL+"/auth\n")
	if _, _, err := m.Connect("live", "_definst_", ClientInfo{IP: "192.0.2.66"}); !errors.Is(err, ErrAccessDenied) ||
		!strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("hook-refused connect: %v", err)
	}
	in, c, err := m.Connect("live", "room", ClientInfo{IP: "127.0.0.1", Protocol: "rtmp", Query: "x=1"})
	if err != nil {
		t.Fatal(err)
	}
	wantAccessCode(t, "publish cam", in.CheckPublish(c, PublishRequest{Stream: "cam", Query: "key=z"}), "")
	err = in.CheckPublish(c, PublishRequest{Stream: "bad"})
	wantAccessCode(t, "publish bad", err, status.PublishBadName)
	if err == nil || !strings.Contains(err.Error(), "refused by the access hook (HTTP 403)") {
		t.Errorf("publish bad: %v, want the hook's answer named", err)
	}
	wantAccessCode(t, "play cam", in.CheckPlay(c, "cam"), "")
	in.Unpublished(c, "cam")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(h.actions(), " "), "unpublish:cam") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling for the notice sent in the background
	}
	got := strings.Join(h.actions(), " ")
	if got != "connect: connect: publish:cam publish:bad play:cam unpublish:cam" {
		t.Errorf("hook saw %q", got)
	}
	h.mu.Lock()
	r := h.reqs[2]
	h.mu.Unlock()
	if r.App != "live" || r.Instance != "room" || r.ClientIP != "127.0.0.1" || r.Query != "key=z" || r.ConnectQuery != "x=1" ||
		r.Protocol != "rtmp" || r.ClientID != c.ID {
		t.Errorf("publish hook request: %+v", r)
	}
}

// A hook that does not answer within its timeout, or cannot be reached,
// refuses.
func TestAccessHookTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	m := accessManager(t, "access:\n  hook:\n    url: "+slow.URL+"\n    timeout: 200ms\n    events: [connect]\n")
	_, _, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("slow hook: %v", err)
	}
	m2 := accessManager(t, "access:\n  hook:\n    url: http://127.0.0.1:1/\n")
	if _, _, err := m2.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("unreachable hook: %v", err)
	}
}

// A broken access section refuses everyone instead of leaving the
// application open; a bad value is refused when parsed.
func TestAccessBrokenConfigFailsClosed(t *testing.T) {
	for _, y := range []string{
		"access:\n  publish_key: [k]\n", // misspelled
		"access:\n  allow: [10.0.0.0/33]\n",
		"access:\n  jwt: {secret: short, publish: true}\n",
		"access:\n  hook: {url: \"ftp://x/\"}\n",
		"access: [\n",
	} {
		m := accessManager(t, y)
		if _, _, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"}); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("%q: connect %v, want refused", y, err)
		}
	}
	// A broken file without an access section keeps its old behavior.
	m := accessManager(t, "record: {live: sometimes}\n")
	if _, _, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"}); err != nil {
		t.Errorf("broken record section: %v", err)
	}
}

// Edits to application.yaml apply to the next client without a restart.
func TestAccessReloadsOnEdit(t *testing.T) {
	m := accessManager(t, "")
	if _, _, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(m.cfg.AppsDir, "live", AppConfigFile)
	if err := os.WriteFile(p, []byte("access:\n  deny: [127.0.0.0/8]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Connect("live", "_definst_", ClientInfo{IP: "127.0.0.1"}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("after locking: %v", err)
	}
}
