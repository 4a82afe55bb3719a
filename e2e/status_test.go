//go:build e2e

package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/status"
)

// TestBadNameAndInvalidApp: with the project's own client against the real
// binary, a second publisher on a busy name gets NetStream.Publish.BadName
// and an unknown application gets NetConnection.Connect.InvalidApp.
func TestBadNameAndInvalidApp(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	dial := func(app string) (*rtmp.Client, error) {
		c, err := rtmp.Dial(ctx, "rtmp://"+srv.rtmpAddr+"/"+app, rtmp.ClientConfig{})
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	publish := func(c *rtmp.Client, name string) error {
		s, err := c.CreateStream(ctx)
		if err != nil {
			t.Fatalf("createStream: %v", err)
		}
		return s.Publish(ctx, name, "live")
	}

	first, err := dial("live")
	if err != nil {
		t.Fatalf("connect live: %v", err)
	}
	if err := publish(first, "busy"); err != nil {
		t.Fatalf("first publisher: %v", err)
	}
	second, err := dial("live")
	if err != nil {
		t.Fatalf("connect live: %v", err)
	}
	err = publish(second, "busy")
	if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.PublishBadName {
		t.Errorf("second publisher on a busy name: %v, want %s", err, status.PublishBadName)
	}
	// The name is free again once the first publisher leaves.
	if err := first.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	third, err := dial("live")
	if err != nil {
		t.Fatalf("connect live: %v", err)
	}
	waitFor(t, 10*time.Second, "the name to become free", func() bool {
		return len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "publish stop" && l["stream"] == "busy" })) > 0
	})
	if err := publish(third, "busy"); err != nil {
		t.Errorf("publisher after the first left: %v", err)
	}

	_, err = dial("nosuchapp")
	if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.ConnectInvalidApp {
		t.Errorf("connect to an unknown app: %v, want %s", err, status.ConnectInvalidApp)
	}
}
