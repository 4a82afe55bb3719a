package webrtc

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatcher sends a queue with sendmmsg: one system call for up to
// batchSlots datagrams instead of one sendto each. Its message headers,
// vectors and addresses are allocated once.
type mmsgBatcher struct {
	raw   syscall.RawConn
	v6    bool // the socket is AF_INET6 (a dual-stack one maps IPv4 destinations)
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	sa4   []unix.RawSockaddrInet4
	sa6   []unix.RawSockaddrInet6
	dropN uint64 // datagrams the system refused
}

func newBatcher(c *net.UDPConn) (batcher, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var domain int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		domain, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	b := &mmsgBatcher{raw: raw, v6: domain == unix.AF_INET6,
		hdrs: make([]unix.Mmsghdr, batchSlots), iovs: make([]unix.Iovec, batchSlots)}
	if b.v6 {
		b.sa6 = make([]unix.RawSockaddrInet6, batchSlots)
	} else {
		b.sa4 = make([]unix.RawSockaddrInet4, batchSlots)
	}
	return b, nil
}

func (b *mmsgBatcher) send(slots [][]byte, dst []netip.AddrPort) error {
	n := 0
	for i, s := range slots {
		a := dst[i]
		h := &b.hdrs[n]
		*h = unix.Mmsghdr{}
		if b.v6 {
			sa := &b.sa6[n]
			*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.Addr().As16()}
			putPort(&sa.Port, a.Port())
			h.Hdr.Name = (*byte)(unsafe.Pointer(sa))
			h.Hdr.Namelen = unix.SizeofSockaddrInet6
		} else {
			ip := a.Addr().Unmap()
			if !ip.Is4() {
				b.dropN++ // an IPv6 destination on an IPv4 socket: nothing can carry it
				continue
			}
			sa := &b.sa4[n]
			*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
			putPort(&sa.Port, a.Port())
			h.Hdr.Name = (*byte)(unsafe.Pointer(sa))
			h.Hdr.Namelen = unix.SizeofSockaddrInet4
		}
		b.iovs[n] = unix.Iovec{Base: unsafe.SliceData(s)}
		b.iovs[n].SetLen(len(s))
		h.Hdr.Iov = &b.iovs[n]
		h.Hdr.SetIovlen(1)
		n++
	}
	var first error
	for sent := 0; sent < n; {
		var m int
		var errno syscall.Errno
		err := b.raw.Write(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[sent])), uintptr(n-sent), 0, 0, 0)
			if e == unix.EAGAIN {
				return false // the poller waits until the socket takes more
			}
			m, errno = int(r), e
			return true
		})
		if err != nil {
			b.dropN += uint64(n - sent)
			return err // closed
		}
		if errno != 0 {
			// The first datagram left failed (an unreachable
			// destination): drop it, send the rest.
			if first == nil {
				first = errno
			}
			b.dropN++
			sent++
			continue
		}
		sent += m
	}
	return first
}

// putPort stores p in network byte order.
func putPort(dst *uint16, p uint16) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(p>>8), byte(p)
}
