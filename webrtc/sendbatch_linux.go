package webrtc

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatcher sends a queue with sendmmsg: one system call for up to
// batchSlots datagrams instead of one sendto each. Consecutive datagrams
// to one address, all of one size but the last (one viewer's packets of
// a frame: full-size fragments, then the rest), go as one message the
// kernel cuts into those datagrams (UDP generic segmentation offload), so
// they cross the network stack once. Headers, vectors, addresses and
// control messages are allocated once.
type mmsgBatcher struct {
	raw   syscall.RawConn
	v6    bool // the socket is AF_INET6 (a dual-stack one maps IPv4 destinations)
	gso   bool // UDP_SEGMENT works here; off after the first refusal
	hdrs  []unix.Mmsghdr
	first []int // the first slot of each message
	iovs  []unix.Iovec
	sa4   []unix.RawSockaddrInet4
	sa6   []unix.RawSockaddrInet6
	ctrl  []byte // one UDP_SEGMENT control message per message
	dropN uint64 // datagrams the system refused
	msgs  uint64 // messages sent (fewer than the datagrams when segmented)
}

// gsoMaxSegments and gsoMaxBytes are the kernel's bounds on one
// segmented send (UDP_MAX_SEGMENTS, and an IP datagram's 64 KiB).
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

var ctrlSpace = unix.CmsgSpace(2)

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
	b := &mmsgBatcher{raw: raw, v6: domain == unix.AF_INET6, gso: true,
		hdrs: make([]unix.Mmsghdr, batchSlots), first: make([]int, batchSlots), iovs: make([]unix.Iovec, batchSlots),
		ctrl: make([]byte, batchSlots*ctrlSpace)}
	if b.v6 {
		b.sa6 = make([]unix.RawSockaddrInet6, batchSlots)
	} else {
		b.sa4 = make([]unix.RawSockaddrInet4, batchSlots)
	}
	return b, nil
}

func (b *mmsgBatcher) send(slots [][]byte, dst []netip.AddrPort) error {
	for i, s := range slots {
		b.iovs[i] = unix.Iovec{Base: unsafe.SliceData(s)}
		b.iovs[i].SetLen(len(s))
	}
	n := 0
	for i := 0; i < len(slots); {
		j := i + 1
		if b.gso {
			seg, total := len(slots[i]), len(slots[i])
			for j < len(slots) && j-i < gsoMaxSegments && dst[j] == dst[i] && len(slots[j-1]) == seg &&
				len(slots[j]) <= seg && total+len(slots[j]) <= gsoMaxBytes {
				total += len(slots[j])
				j++
			}
		}
		if b.message(n, i, j, len(slots[i]), dst[i]) {
			n++
		}
		i = j
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
			return err // closed
		}
		if errno == 0 {
			sent += m
			b.msgs += uint64(m)
			continue
		}
		if b.hdrs[sent].Hdr.Controllen != 0 && b.gso {
			// The path cannot segment (no checksum offload, IPsec):
			// send the rest datagram by datagram, now and from now on.
			b.gso = false
			start := b.first[sent]
			if err := b.send(slots[start:], dst[start:]); err != nil && first == nil {
				first = err
			}
			return first
		}
		// The first message left failed (an unreachable destination):
		// drop it, send the rest.
		if first == nil {
			first = errno
		}
		b.dropN++
		sent++
	}
	return first
}

// message fills message n with slots i to j (exclusive) to a, each of
// size seg but the last; false when a cannot be reached from this socket.
func (b *mmsgBatcher) message(n, i, j, seg int, a netip.AddrPort) bool {
	h := &b.hdrs[n]
	*h = unix.Mmsghdr{}
	b.first[n] = i
	if b.v6 {
		sa := &b.sa6[n]
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.Addr().As16()}
		putPort(&sa.Port, a.Port())
		h.Hdr.Name = (*byte)(unsafe.Pointer(sa))
		h.Hdr.Namelen = unix.SizeofSockaddrInet6
	} else {
		ip := a.Addr().Unmap()
		if !ip.Is4() {
			b.dropN += uint64(j - i) // an IPv6 destination on an IPv4 socket: nothing can carry it
			return false
		}
		sa := &b.sa4[n]
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		putPort(&sa.Port, a.Port())
		h.Hdr.Name = (*byte)(unsafe.Pointer(sa))
		h.Hdr.Namelen = unix.SizeofSockaddrInet4
	}
	h.Hdr.Iov = &b.iovs[i]
	h.Hdr.SetIovlen(j - i)
	if j-i > 1 {
		c := b.ctrl[n*ctrlSpace : (n+1)*ctrlSpace]
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		cm.SetLen(unix.CmsgLen(2))
		*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(seg) // host byte order, as the kernel reads it
		h.Hdr.Control = &c[0]
		h.Hdr.SetControllen(ctrlSpace)
	}
	return true
}

// putPort stores p in network byte order.
func putPort(dst *uint16, p uint16) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(p>>8), byte(p)
}
