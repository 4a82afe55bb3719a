//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
)

// TestRoomQuietAndVanishedPages: a room page nobody types in stays in
// the room for several idle timeouts (the server pings a quiet
// connection and the page answers), and a page whose network vanished
// without closing leaves the others' people list within
// session.idle_timeout (10 s here; 2 min by default), after at least half
// of it.
func TestRoomQuietAndVanishedPages(t *testing.T) {
	t.Parallel()
	const idle = 10 * time.Second
	srv := startServer(t, serverOpts{Apps: []string{"room"}, Config: "session:\n  idle_timeout: 10s\n"})
	srv.copySampleApp(t, "room")
	f := testutil.StartFreezer(t, srv.httpAddr)
	b := startBrowser(t)

	b.open(t, "quiet", srv.pageURL("/room/q?user=quiet"))
	b.open(t, "gone", "http://"+f.Addr()+"/room/q?user=gone")
	for _, who := range []string{"quiet", "gone"} {
		waitStrings(t, b, who, "people", roomPeople, []string{"gone", "quiet"})
	}
	f.Freeze()
	frozenAt := time.Now()
	waitStrings(t, b, "quiet", "people after gone vanished", roomPeople, []string{"quiet"})
	left := time.Since(frozenAt)
	t.Logf("a page whose network vanished left the people list %v after (idle timeout %v)", left.Round(100*time.Millisecond), idle)
	if left < idle/2 {
		t.Errorf("the vanished page left after %v, before half the idle timeout: what closed it?", left)
	}
	// The server closes it at the timeout; the list's update then takes
	// a moment to reach the page (seconds on a loaded machine).
	if left > idle+10*time.Second {
		t.Errorf("the vanished page left after %v, well past the idle timeout %v", left, idle)
	}

	// The quiet page has sent nothing since it joined; it must still be
	// connected after three idle timeouts.
	for time.Since(frozenAt) < 3*idle {
		time.Sleep(time.Second)
	}
	var state string
	b.eval(t, "quiet", `return document.querySelector('fcs-connect').state;`, &state)
	if state != "connected" {
		t.Fatalf("the quiet page is %q after %v without a word, want connected", state, 3*idle)
	}
	say(t, b, "quiet", "still here")
	b.noProblems(t, "quiet")
	if l := srv.findLogs(func(m map[string]any) bool { return m["msg"] == "closed" && m["reason"] == "timeout" }); len(l) != 1 {
		t.Errorf("%d connections closed for idleness, want the vanished page's only: %v", len(l), l)
	}
}
