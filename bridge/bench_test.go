package bridge

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
)

// wsPair returns the server side of a loopback WebSocket (upgraded by the
// bridge's upgrader settings) whose client only drains what it receives.
func wsPair(b *testing.B) *wsConn {
	b.Helper()
	s := &Server{}
	s.init()
	got := make(chan *websocket.Conn, 1)
	hold := make(chan struct{})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		return s.upgrader.Upgrade(c.Context(), func(ws *websocket.Conn) {
			got <- ws
			<-hold
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = app.Listener(ln) })
	cl, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() {
		for {
			_, r, err := cl.NextReader()
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, r)
		}
	})
	c := newWSConn(<-got, 0, false)
	b.Cleanup(func() {
		_ = c.Close()
		close(hold)
		_ = cl.Close()
		_ = app.Shutdown()
		wg.Wait()
	})
	return c
}

// BenchmarkWriteBuffers: one player's flush of a 1 Mbit/s stream's tick
// (chunk headers and a 4.6 KB video frame, two audio frames, the
// payloads shared) written as one binary message.
func BenchmarkWriteBuffers(b *testing.B) {
	c := wsPair(b)
	video, audio := make([]byte, 4600), make([]byte, 200)
	bufs := [][]byte{make([]byte, 12), video[:4096], {0xc6}, video[4096:], make([]byte, 12), audio, make([]byte, 8), audio}
	n := 0
	for _, s := range bufs {
		n += len(s)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.WriteBuffers(bufs); err != nil {
			b.Fatal(err)
		}
	}
}
