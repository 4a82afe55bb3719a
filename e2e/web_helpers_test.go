//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// remoteScript is the Chromium the browser-library tests drive step by
// step (e2e/browser/remote.mjs, playwright-core on Debian's chromium with
// a fake camera and microphone).
const remoteScript = "browser/remote.mjs"

// browserSlots bounds the Chromiums the browser-library tests run at
// once: each decodes and encodes video, and the suite runs tests in
// parallel on machines with few cores.
var browserSlots = make(chan struct{}, 3)

// browser is one Chromium under remote control: requests are JSON lines
// on its stdin, answers JSON lines on its stdout, in order.
type browser struct {
	t   testing.TB
	p   *proc
	in  io.WriteCloser
	out chan string

	mu sync.Mutex // one request at a time
}

// startBrowser starts Chromium; a missing node, chromium or npm install
// fails the test (scripts/deps.sh installs them).
func startBrowser(t testing.TB) *browser {
	t.Helper()
	if _, err := os.Stat("browser/node_modules/playwright-core/package.json"); err != nil {
		t.Fatal("browser/node_modules/playwright-core missing: run scripts/deps.sh (npm ci in e2e/browser)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node missing: run scripts/deps.sh")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("/usr/bin/chromium missing: run scripts/deps.sh (Debian package chromium)")
	}
	browserSlots <- struct{}{}
	t.Cleanup(func() { <-browserSlots }) // after the browser's own cleanup below
	r, w := io.Pipe()
	b := &browser{t: t, in: w, out: make(chan string, 16)}
	b.p = startProc(t, procOpts{Stdin: r, StdoutLine: func(line string) { b.out <- line }}, "node", remoteScript)
	t.Cleanup(func() {
		_ = w.Close() // remote.mjs closes Chromium at the end of its input
		select {
		case <-b.p.done:
		case <-time.After(20 * time.Second):
			t.Errorf("the browser did not exit within 20s of its input ending")
		}
	})
	return b
}

// do sends one request and returns its result; an error answer fails the test.
func (b *browser) do(t testing.TB, timeout time.Duration, req map[string]any) json.RawMessage {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	line, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.in.Write(append(line, '\n')); err != nil {
		t.Fatalf("browser: %v\n%s", err, b.p.stderr.String())
	}
	select {
	case ans := <-b.out:
		var a struct {
			OK     bool            `json:"ok"`
			Result json.RawMessage `json:"result"`
			Error  string          `json:"error"`
		}
		if err := json.Unmarshal([]byte(ans), &a); err != nil {
			t.Fatalf("browser answer %q: %v", ans, err)
		}
		if !a.OK {
			t.Fatalf("browser %v %v: %s", req["op"], req["page"], a.Error)
		}
		return a.Result
	case <-b.p.done:
		t.Fatalf("the browser exited: %v\n%s", b.p.err, b.p.stderr.String())
	case <-time.After(timeout):
		t.Fatalf("browser %v %v: no answer within %v", req["op"], req["page"], timeout)
	}
	return nil
}

// checkLit fails t when the canvas of page's openfcs.js player is black
// (mean luma under 30).
func (b *browser) checkLit(t testing.TB, page string) {
	t.Helper()
	var luma float64
	b.eval(t, page, "return window.t.luma()", &luma)
	if luma < 30 {
		t.Errorf("canvas mean luma %.1f: black", luma)
	}
}

// open opens url in a new tab named page.
func (b *browser) open(t testing.TB, page, url string) {
	t.Helper()
	b.do(t, time.Minute, map[string]any{"op": "open", "page": page, "url": url})
}

// eval runs js (the body of an async function) in page and decodes its
// value into v (nil: ignore it).
func (b *browser) eval(t testing.TB, page, js string, v any) {
	t.Helper()
	raw := b.do(t, 2*time.Minute, map[string]any{"op": "eval", "page": page, "js": js})
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("eval result %s: %v", raw, err)
		}
	}
}

// wait polls js (a function body returning a truthy value when done) in
// page until it is true, failing the test after timeout.
func (b *browser) wait(t testing.TB, page, js string, timeout time.Duration) {
	t.Helper()
	b.do(t, timeout+30*time.Second, map[string]any{"op": "wait", "page": page, "js": js, "timeout": timeout.Milliseconds()})
}

// act runs a simple request (fill, click, draw, screenshot).
func (b *browser) act(t testing.TB, req map[string]any) {
	t.Helper()
	b.do(t, time.Minute, req)
}

// problems returns page's console errors, exceptions and failed requests.
func (b *browser) problems(t testing.TB, page string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal(b.do(t, time.Minute, map[string]any{"op": "problems", "page": page}), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// noProblems fails the test when page logged console errors, threw or
// had requests fail.
func (b *browser) noProblems(t testing.TB, page string) {
	t.Helper()
	if p := b.problems(t, page); len(p) > 0 {
		t.Errorf("page %s: %d problems:\n%s", page, len(p), strings.Join(p, "\n"))
	}
}

// pageURL is http://<server>/<path>.
func (s *server) pageURL(path string) string {
	return fmt.Sprintf("http://%s/%s", s.httpAddr, strings.TrimPrefix(path, "/"))
}
