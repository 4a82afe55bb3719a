//go:build !linux

package loadbench

import (
	"io"
	"net"
)

// pollGroup, without epoll, gives each connection a goroutine of its own
// that calls the handler with a reader that blocks; pollread_linux.go has
// the shared readers.
type pollGroup struct{}

// countingReader counts what it reads into m.
type countingReader struct {
	r io.Reader
	m *member
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.m.bytes.Add(int64(n))
	return n, err
}

// watch reads nc on a goroutine until the handler fails or the stream
// ends.
func (g *pollGroup) watch(nc net.Conn, m *member, ready func(src io.Reader) error) error {
	if cc, ok := nc.(*countConn); ok {
		nc = cc.Conn
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		src := countingReader{r: nc, m: m}
		for ready(src) == nil {
		}
	}()
	m.done = done
	m.close = func() { _ = nc.Close(); <-done }
	return nil
}

func (g *pollGroup) close() {}
