package web

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	h := Handler()
	cases := []struct {
		path   string
		status int
		ctype  string
		body   string
	}{
		{"/", 200, "text/html; charset=utf-8", "<title>openfcs</title>"},
		{"/index.html", 200, "text/html; charset=utf-8", "<title>openfcs</title>"},
		{"/index.js", 200, "text/javascript; charset=utf-8", "/api/apps"},
		{"/style.css", 200, "text/css; charset=utf-8", "--accent"},
		{"/web.go", 404, "", ""},
		{"/web_test.go", 404, "", ""},
		{"/../web.go", 404, "", ""},
		{"/nope.html", 404, "", ""},
		{"/.hidden.js", 404, "", ""},
		{"/room/lobby", 200, "text/html; charset=utf-8", "<fcs-video-conference"},
		{"/room/team-2_b/", 200, "text/html; charset=utf-8", "<fcs-chat"},
		{"/room/a%2Fb", 404, "", ""},
		{"/room/a/b", 404, "", ""},
		{"/room/" + strings.Repeat("x", 65), 404, "", ""},
		{"/room.html", 200, "text/html; charset=utf-8", "<fcs-connect"},
		{"/favicon.ico", 200, "image/x-icon", "\x89PNG"},
		{"/components/example.html", 200, "text/html; charset=utf-8", "<fcs-whiteboard>"},
		{"/components/index.js", 200, "text/javascript; charset=utf-8", "FCSVideoConference"},
		{"/pages/room.js", 200, "text/javascript; charset=utf-8", "/components/index.js"},
		{"/openfcs.js", 200, "text/javascript; charset=utf-8", "export { NetConnection"},
		{"/openfcs.d.ts", 200, "text/plain; charset=utf-8", "export declare class NetConnection"},
		{"/player/player.js", 200, "text/javascript; charset=utf-8", "export class Player"},
		{"/play.html", 200, "text/html; charset=utf-8", "/pages/play.js"},
		{"/publish.html", 200, "text/html; charset=utf-8", "/pages/publish.js"},
		{"/chat.html", 200, "text/html; charset=utf-8", "/pages/chat.js"},
		{"/whep.html", 200, "text/html; charset=utf-8", "/pages/whep.js"},
		{"/whip.html", 200, "text/html; charset=utf-8", "/pages/whip.js"},
		{"/test/amf.test.js", 404, "", ""},
		{"/package.json", 404, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			w := get(t, h, http.MethodGet, tc.path, nil)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != tc.ctype {
				t.Errorf("Content-Type %q, want %q", ct, tc.ctype)
			}
			if !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
}

// TestRevalidation: a client holding the current ETag gets 304.
func TestRevalidation(t *testing.T) {
	h := Handler()
	w := get(t, h, http.MethodGet, "/index.js", nil)
	tag := w.Header().Get("ETag")
	if tag == "" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", tag, w.Header().Get("Cache-Control"))
	}
	if w := get(t, h, http.MethodGet, "/index.js", map[string]string{"If-None-Match": tag}); w.Code != http.StatusNotModified {
		t.Fatalf("status %d, want 304", w.Code)
	}
	if w := get(t, h, http.MethodPost, "/index.js", nil); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: status %d, want 405", w.Code)
	}
}

// The page docs/components.md offers to copy is the one the server
// serves at /components/example.html, which the e2e suite drives.
func TestComponentsExampleIsTheDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/components.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A room in one page\n")
	if !ok {
		t.Fatal("docs/components.md has no section \"A room in one page\"")
	}
	_, rest, ok = strings.Cut(rest, "```html\n")
	block, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("the section \"A room in one page\" has no html block")
	}
	w := get(t, Handler(), "GET", "/components/example.html", nil)
	if w.Code != 200 {
		t.Fatalf("GET /components/example.html: %d", w.Code)
	}
	if got := w.Body.String(); got != block {
		t.Errorf("/components/example.html differs from the block in docs/components.md:\n--- served\n%s\n--- docs\n%s", got, block)
	}
}
