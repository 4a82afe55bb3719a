//go:build !linux

package webrtc

import "net"

// newBatcher: without sendmmsg every datagram is sent at once.
func newBatcher(*net.UDPConn) (batcher, error) { return nil, nil }
