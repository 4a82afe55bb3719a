//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/rtmp/message"
)

// Helpers for the application-script scenarios.

// appsDir returns the server's applications folder (from its `started`
// log line).
func (s *server) appsDir(t testing.TB) string {
	t.Helper()
	var dir string
	waitFor(t, 10*time.Second, "the started log line", func() bool {
		for _, l := range s.findLogs(func(m map[string]any) bool { return m["msg"] == "started" }) {
			dir, _ = l["apps"].(string)
		}
		return dir != ""
	})
	return dir
}

// writeApp writes files (name -> content) into application app. Instances
// load on their first connect, so scripts written after start are used.
func (s *server) writeApp(t testing.TB, app string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(s.appsDir(t), app, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copySampleApp installs a sample application shipped in ../applications.
func (s *server) copySampleApp(t testing.TB, app string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "applications", app, "main.asc"))
	if err != nil {
		t.Fatal(err)
	}
	s.writeApp(t, app, map[string]string{"main.asc": string(src)})
}

// traces returns the text of every trace line logged so far.
func (s *server) traces() []string {
	var out []string
	for _, l := range s.findLogs(func(m map[string]any) bool { return m["msg"] == "trace" }) {
		if txt, ok := l["text"].(string); ok {
			out = append(out, txt)
		}
	}
	return out
}

// waitTrace waits for a trace line containing text.
func (s *server) waitTrace(t testing.TB, text string) {
	t.Helper()
	waitFor(t, 15*time.Second, "trace "+text, func() bool {
		for _, tr := range s.traces() {
			if strings.Contains(tr, text) {
				return true
			}
		}
		return false
	})
}

// dialApp connects the project's client to app[/instance] with args.
func (s *server) dialApp(t testing.TB, ctx context.Context, path string, args ...amf.Value) *rtmp.Client {
	t.Helper()
	c, err := rtmp.Dial(ctx, "rtmp://"+s.rtmpAddr+"/"+path, rtmp.ClientConfig{}, args...)
	if err != nil {
		t.Fatalf("connect %s: %v", path, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connectInfo connects to path and returns the connect answer's info
// object and whether it was a _result.
func (s *server) connectInfo(t testing.TB, ctx context.Context, path string, args ...amf.Value) (*rtmp.Client, amf.Value, bool) {
	t.Helper()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.rtmpAddr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rtmp.NewClient(ctx, nc, rtmp.ClientConfig{})
	if err != nil {
		_ = nc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	info, ok, err := c.ConnectInfo(ctx, path, "rtmp://"+s.rtmpAddr+"/"+path, args...)
	if err != nil {
		t.Fatalf("connect %s: %v", path, err)
	}
	return c, info, ok
}

// nextCall waits for a server-to-client call named name on c.
func nextCall(t testing.TB, ctx context.Context, c *rtmp.Client, name string) *message.Command {
	t.Helper()
	for {
		select {
		case cmd := <-c.Calls:
			if cmd.Name == name {
				return cmd
			}
		case <-ctx.Done():
			t.Fatalf("no call %q from the server: %v", name, ctx.Err())
		case <-c.Done():
			t.Fatalf("connection closed waiting for call %q: %v", name, c.Err())
		}
	}
}

// startAuthPublisher publishes test sources to url with librtmp-style
// connect arguments (ffmpeg -rtmp_conn).
func startAuthPublisher(t testing.TB, url, rtmpConn string) *proc {
	t.Helper()
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=320x240:rate=%d", fps),
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-map", "0:v", "-map", "1:a"}
	args = append(args, h264NoB...)
	args = append(args, aacAudio...)
	if rtmpConn != "" {
		args = append(args, "-rtmp_conn", rtmpConn)
	}
	args = append(args, "-f", "flv", url)
	return startProc(t, procOpts{}, "ffmpeg", args...)
}
