//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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

// TestRejectedConnectKeepsItsReply: a client connects to an application
// that does not exist and sends 256 KiB more right behind the connect (the
// start of a large message), reading nothing for a moment with a small
// receive buffer, so the server's handshake reply and _error wait in the
// server's send queue. A close with unread input is a reset, which throws
// that queue away: the client read "connection reset" instead of
// NetConnection.Connect.InvalidApp. The server now shuts its write side
// after the _error and drains the input before closing
// (docs/limits.md#sessions-and-transports).
func TestRejectedConnectKeepsItsReply(t *testing.T) {
	t.Parallel()
	// With "session: {close_drain: -1s}" (a close at once, as before) the
	// first connection already fails: its handshake reply is reset.
	srv := startServer(t, serverOpts{})
	for i := range 5 {
		r := dialRaw(t, srv.rtmpAddr, 1) // the smallest receive buffer Linux allows
		// C0, C1 and C2 at once (the server does not check C2), connect,
		// then a message declared 16 MiB - 1 long and 256 KiB of it.
		b := make([]byte, 1+2*1536)
		b[0] = 3
		p := amf0(nil, "connect")
		p = amf0(p, 1.0)
		p = amf0(p, amfObject{{"app", "nosuchapp"}, {"tcUrl", "rtmp://" + srv.rtmpAddr + "/nosuchapp"}})
		b = appendMessage(b, 3, 20, 0, p, 128)
		b = chunkHeader0(b, 4, 0, 1<<24-1, 8, 1)
		for n := 0; n < 256<<10; n += 128 {
			if n > 0 {
				b = appendBasicHeader(b, 3, 4)
			}
			b = append(b, make([]byte, 128)...)
		}
		wrote := make(chan error, 1)
		go func() { wrote <- r.write(b) }()
		time.Sleep(300 * time.Millisecond) // the server has rejected and closed by then
		_ = r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(r.br, make([]byte, 1+2*1536)); err != nil {
			t.Fatalf("connection %d: reading S0, S1, S2: %v", i, err)
		}
		vals, err := r.awaitCommand(20*time.Second, "_result", "_error")
		_ = r.c.Close()
		if err := <-wrote; err != nil {
			t.Logf("connection %d: the client's write ended: %v", i, err) // it closed first
		}
		if err != nil {
			t.Fatalf("connection %d: no connect reply: %v", i, err)
		}
		if got := fmt.Sprint(vals); vals[0] != "_error" || !strings.Contains(got, status.ConnectInvalidApp) {
			t.Fatalf("connection %d: connect answered %s, want _error %s", i, got, status.ConnectInvalidApp)
		}
	}
}
