package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
)

// listening returns the addresses of the `listening` lines so far, by proto.
func listening(logs string) map[string]string {
	addrs := map[string]string{}
	for line := range strings.Lines(logs) {
		var l struct{ Msg, Proto, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
			addrs[l.Proto] = l.Addr
		}
	}
	return addrs
}

// The admin listener serves the API behind the token from
// OPENFCS_ADMIN_TOKEN; the public HTTP port no longer serves the old
// unauthenticated /api/instances and /api/stats.
func TestAdminListener(t *testing.T) {
	t.Setenv("OPENFCS_ADMIN_TOKEN", "s3cret-token")
	apps := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	logs := testutil.NewLogBuffer(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--rtmp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--apps", apps, "--log-format", "json"}, logs, logs)
	}()
	testutil.WaitFor(t, 10*time.Second, "the started line", func() bool { return strings.Contains(logs.String(), `"msg":"started"`) })
	addrs := listening(logs.String())
	if addrs["admin"] == "" {
		t.Fatalf("no admin listening line in:\n%s", logs.String())
	}
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	admin := "http://" + addrs["admin"]
	if code, body := get(admin+"/admin/getServerStats", "s3cret-token"); code != 200 || !strings.Contains(body, `"code": "NetConnection.Call.Success"`) {
		t.Errorf("getServerStats with the token: %d %s", code, body)
	}
	// What the soak test samples: memory, descriptors, sockets.
	_, body := get(admin+"/admin/api/v1/server", "s3cret-token")
	var st struct {
		RSS     int64 `json:"rss_bytes"`
		FDs     int   `json:"open_fds"`
		Sockets *int  `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.RSS <= 0 || st.FDs <= 0 || st.Sockets == nil {
		t.Errorf("server view = %s (%v): want rss_bytes, open_fds and sockets", body, err)
	}
	if code, _ := get(admin+"/admin/getServerStats", ""); code != 401 {
		t.Errorf("getServerStats without a token: %d, want 401", code)
	}
	if code, _ := get(admin+"/metrics", "wrong"); code != 401 {
		t.Errorf("/metrics with a wrong token: %d, want 401", code)
	}
	if code, _ := get(admin+"/healthz", ""); code != 200 {
		t.Errorf("/healthz: %d, want 200 without a token", code)
	}
	for _, old := range []string{"/api/instances", "/api/stats"} {
		if code, _ := get("http://"+addrs["http"]+old, ""); code != 404 {
			t.Errorf("public %s: %d, want 404 (moved to the admin listener)", old, code)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

// Without a token the admin listener stays off, with one warning.
func TestAdminOffWithoutToken(t *testing.T) {
	t.Setenv("OPENFCS_ADMIN_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	logs := testutil.NewLogBuffer(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--rtmp", "127.0.0.1:0", "--http", "", "--admin", "127.0.0.1:0",
			"--apps", t.TempDir(), "--log-format", "json"}, logs, logs)
	}()
	testutil.WaitFor(t, 10*time.Second, "the started line", func() bool { return strings.Contains(logs.String(), `"msg":"started"`) })
	if a := listening(logs.String())["admin"]; a != "" {
		t.Errorf("admin listening on %s without a token", a)
	}
	if !strings.Contains(logs.String(), "admin listener off: no token") {
		t.Errorf("no warning about the missing token in:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}
