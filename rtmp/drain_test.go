package rtmp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// connectAndFlood is what a client sends without reading anything: C0, C1,
// C2 (the server does not check C2), a connect to app, then the start of a
// message declared 16 MiB long and flood bytes of it, which the server
// reassembles but never handles.
func connectAndFlood(t testing.TB, app string, flood int) []byte {
	t.Helper()
	b := make([]byte, 1+2*handshake.BlockSize)
	b[0] = 3
	cmd := message.Command{Name: "connect", Txn: 1, Object: amf.Object(
		amf.Prop{Key: "app", Value: amf.String(app)},
		amf.Prop{Key: "tcUrl", Value: amf.String("rtmp://127.0.0.1/" + app)},
	)}
	body, err := cmd.Append(nil, new(amf.Encoder))
	if err != nil {
		t.Fatal(err)
	}
	w := chunk.NewWriter()
	if b, err = w.AppendBytes(b, chunk.Header{CSID: 3, Type: message.TypeCommand}, body); err != nil {
		t.Fatal(err)
	}
	// A fmt-0 header on csid 4: 16 MiB - 1 of audio on stream 1, then the
	// first flood bytes of it in 128-byte chunks.
	b = append(b, 4, 0, 0, 0, 0xff, 0xff, 0xff, byte(message.TypeAudio), 1, 0, 0, 0)
	for sent := 0; sent < flood; sent += 128 {
		if sent > 0 {
			b = append(b, 0xc4) // fmt 3, csid 4
		}
		b = append(b, make([]byte, 128)...)
	}
	return b
}

// TestRejectedReplySurvivesUnreadInput: a client sends a connect to an
// application that does not exist and, right behind it, 256 KiB it has no
// reason to think the server will not read (the start of a large message),
// and reads nothing for a moment: its receive buffer is small, so the
// server's handshake reply and the _error wait in the server's send queue.
// Closing a socket with unread input makes the kernel send a reset and
// throw that queue away; the client then read part of the handshake and
// "connection reset", never the _error. The server now shuts its write side
// (the _error and then FIN go out as the client reads) and reads and
// discards what the client still sends before it closes.
func TestRejectedReplySurvivesUnreadInput(t *testing.T) {
	ts := startServerWith(t, Config{HandshakeTimeout: time.Minute}, instance.Config{})
	for i := range 5 {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		// The smallest receive buffer Linux allows (about 2 KiB): the
		// 3073 bytes of S0, S1 and S2 do not fit.
		if err := nc.(*net.TCPConn).SetReadBuffer(1); err != nil {
			t.Fatal(err)
		}
		wrote := make(chan error, 1)
		go func() {
			_, err := nc.Write(connectAndFlood(t, "nosuchapp", 256<<10))
			wrote <- err
		}()
		// Long enough for the server to read the connect, reject it and
		// close (it used to close within a millisecond or two).
		time.Sleep(300 * time.Millisecond)
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		code, err := readConnectReply(nc)
		_ = nc.Close()
		if err := <-wrote; err != nil {
			t.Logf("connection %d: the client's write ended: %v", i, err) // it closed first
		}
		if err != nil {
			t.Fatalf("connection %d: no connect reply: %v", i, err)
		}
		if code != status.ConnectInvalidApp {
			t.Fatalf("connection %d: connect answered %q, want %s", i, code, status.ConnectInvalidApp)
		}
	}
}

// readConnectReply reads S0, S1, S2 and messages up to the connect's
// _result or _error and returns its code.
func readConnectReply(nc net.Conn) (string, error) {
	if _, err := io.ReadFull(nc, make([]byte, 1+2*handshake.BlockSize)); err != nil {
		return "", err
	}
	r := chunk.NewReader(nc, chunk.Limits{})
	for {
		h, p, err := r.ReadMessage()
		if err != nil {
			return "", err
		}
		if h.Type != message.TypeCommand {
			continue
		}
		cmd, err := message.ParseCommand(p, h.Type, new(amf.Decoder), nil)
		if err != nil {
			return "", err
		}
		if cmd.Name == "_error" || cmd.Name == "_result" {
			return cmd.Arg(0).Get("code").Str(), nil
		}
	}
}

// TestCloseDrainIsBounded: the drain after a final reply does not let a
// client hold its socket: one that keeps sending is closed after
// CloseDrainBytes, one that sends slowly after CloseDrain, both well
// before any other timeout of the connection (a minute here).
func TestCloseDrainIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		every time.Duration // between writes of 4 KiB; 0: as fast as the socket takes them
	}{
		{"bytes", Config{CloseDrain: time.Minute, CloseDrainBytes: 256 << 10}, 0},
		{"time", Config{CloseDrain: 500 * time.Millisecond, CloseDrainBytes: 1 << 30}, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.HandshakeTimeout, cfg.IdleTimeout = time.Minute, time.Minute
			ts := startServerWith(t, cfg, instance.Config{})
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(connectAndFlood(t, "nosuchapp", 0)); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			if code, err := readConnectReply(nc); err != nil || code != status.ConnectInvalidApp {
				t.Fatalf("connect answered %q, %v", code, err)
			}
			// Keep sending chunks of the declared message until the
			// server closes.
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				buf := bytes.Repeat([]byte{0xc4}, 4096)
				for {
					if _, err := nc.Write(buf); err != nil {
						done <- err
						return
					}
					if tc.every > 0 {
						time.Sleep(tc.every)
					}
				}
			}()
			// The server's FIN came after the _error: reads end at once;
			// the socket's end shows on the writes.
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Fatalf("after the _error: %v, want EOF", err)
			}
			select {
			case err := <-done:
				t.Logf("closed after %v of sending: %v", time.Since(start).Round(time.Millisecond), err)
				if !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "broken pipe") {
					t.Fatalf("write error %v, want a reset or broken pipe", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("still open 20 s after the rejection")
			}
			testutil.WaitFor(t, 10*time.Second, "the closed line", func() bool {
				return strings.Contains(ts.logs.String(), "reason=rejected")
			})
		})
	}
}
