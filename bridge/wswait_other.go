//go:build !linux

package bridge

// readable is never called: elsewhere rtmp.RawConnOf finds no socket, and
// a session waits for its next message inside the library's read.
func (*wsConn) readable(uintptr) bool { return true }
