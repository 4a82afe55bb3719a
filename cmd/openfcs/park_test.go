package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp"
)

// The drain of a stop ends connections that wait parked, without a
// reader goroutine (session.park_after), as it ends the others: each is
// closed with its closed line, and the server returns before
// drain_timeout.
func TestDrainClosesParkedConnections(t *testing.T) {
	apps := t.TempDir()
	if err := os.Mkdir(filepath.Join(apps, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "openfcs.yaml")
	if err := os.WriteFile(cfg, []byte("session:\n  park_after: 20ms\ndrain_timeout: 20s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := testutil.NewLogBuffer(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--rtmp", "127.0.0.1:0", "--http", "", "--apps", apps,
			"--config", cfg, "--log-format", "json"}, logs, logs)
	}()
	testutil.WaitFor(t, 10*time.Second, "the started line", func() bool { return strings.Contains(logs.String(), `"msg":"started"`) })
	m := regexp.MustCompile(`"proto":"rtmp","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no rtmp address in:\n%s", logs.String())
	}
	cctx := testutil.Context(t, 20*time.Second)
	const n = 3
	var clients []*rtmp.Client
	for range n {
		c, err := rtmp.Dial(cctx, "rtmp://"+m[1]+"/live", rtmp.ClientConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Call(cctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	time.Sleep(300 * time.Millisecond) // quiet for many times park_after: parked
	start := time.Now()
	cancel()
	for i, c := range clients {
		select {
		case <-c.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("client %d still connected 15 s into the drain", i)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return")
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the drain took %v", took)
	}
	if got := strings.Count(logs.String(), `"msg":"closed"`); got != n {
		t.Errorf("%d closed lines, want %d:\n%s", got, n, logs.String())
	}
}
