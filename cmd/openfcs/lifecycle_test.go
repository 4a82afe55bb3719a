package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
)

// SIGHUP reads the file again: the log level and the admin token change
// under the running server, other sections are named as needing a
// restart, and a broken file changes nothing.
func TestReloadOnHangup(t *testing.T) {
	t.Setenv("OPENFCS_ADMIN_TOKEN", "")
	hup := make(chan os.Signal, 1)
	hangups = hup
	t.Cleanup(func() { hangups = nil })
	dir := t.TempDir()
	conf := filepath.Join(dir, "openfcs.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("admin:\n  token: first-token\nlog:\n  level: info\n")
	ctx, cancel := context.WithCancel(context.Background())
	logs := testutil.NewLogBuffer(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", conf, "--rtmp", "127.0.0.1:0", "--http", "", "--admin", "127.0.0.1:0",
			"--apps", dir, "--log-format", "json"}, logs, logs)
	}()
	testutil.WaitFor(t, 10*time.Second, "the started line", func() bool { return strings.Contains(logs.String(), `"msg":"started"`) })
	admin := "http://" + listening(logs.String())["admin"] + "/admin/ping"
	status := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, admin, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if status("first-token") != 200 {
		t.Fatal("the first token is refused")
	}
	write("admin:\n  token: second-token\nlog:\n  level: debug\nsession:\n  max_conns: 7\n")
	hup <- syscall.SIGHUP
	testutil.WaitFor(t, 10*time.Second, "the reloaded line", func() bool { return strings.Contains(logs.String(), `"msg":"reloaded"`) })
	if status("first-token") != 401 || status("second-token") != 200 {
		t.Error("the admin token did not change with the reload")
	}
	if !strings.Contains(logs.String(), `"msg":"reloaded","applied":["log.level","admin.token"]`) {
		t.Error("the reloaded line does not name the log level and the token")
	}
	if !strings.Contains(logs.String(), `"msg":"reload: changed keys take effect after a restart","sections":["session"]`) {
		t.Errorf("the session change was not named:\n%s", logs.String())
	}
	write("admin: [\n")
	hup <- syscall.SIGHUP
	testutil.WaitFor(t, 10*time.Second, "the refused reload", func() bool {
		return strings.Contains(logs.String(), "reload: configuration refused, nothing changed")
	})
	if status("second-token") != 200 {
		t.Error("a broken file changed the token")
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

func TestNeedsRestart(t *testing.T) {
	a := defaultConfig()
	b := a
	b.Log.Level, b.Admin.Token, b.TLS.CertFile = "debug", "x", "/c.pem"
	if got := needsRestart(a, b); len(got) != 0 {
		t.Errorf("reloadable keys named: %v", got)
	}
	b.RTMP = ":1"
	b.Instance.IdleUnload = time.Minute * 3
	if got := needsRestart(a, b); !slices.Equal(got, []string{"instance", "rtmp"}) {
		t.Errorf("needsRestart = %v", got)
	}
}

// TestServiceStopTimeoutCoversDrain: the systemd unit's TimeoutStopSec
// leaves the default drain_timeout and at least 10 s more for what
// follows it (onAppStop, closing recordings, saving shared objects):
// otherwise systemd kills a server that drains as it should.
func TestServiceStopTimeoutCoversDrain(t *testing.T) {
	b, err := os.ReadFile("../../contrib/openfcs.service")
	if err != nil {
		t.Fatal(err)
	}
	var stop time.Duration
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "TimeoutStopSec="); ok {
			sec, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("TimeoutStopSec=%s: %v", v, err)
			}
			stop = time.Duration(sec) * time.Second
		}
	}
	if want := defaultConfig().DrainTimeout + 10*time.Second; stop < want {
		t.Errorf("TimeoutStopSec is %v, want at least %v (drain_timeout %v + 10 s)", stop, want, defaultConfig().DrainTimeout)
	}
}
