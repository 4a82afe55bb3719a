//go:build !unix

package listen

import "net"

// peekTCP is unavailable here; sniff falls back to reading the byte and
// wrapping the conn.
func peekTCP(*net.TCPConn) (byte, error) { return 0, errNoPeek }
