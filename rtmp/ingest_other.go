//go:build !linux

package rtmp

import (
	"net"
	"syscall"
)

// sockReader is the Linux reader's stand-in: elsewhere the ingest clock
// reads no socket itself (RawConnOf finds none, and publishers read as
// bytes arrive), so it is never made.
type sockReader struct{}

func newSockReader(net.Conn) *sockReader { return nil }

func (*sockReader) Read([]byte) (int, error) { return 0, syscall.ENOTSUP }

func (*sockReader) quiet(bool) {}
