package handshake

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Version is the protocol version byte of C0/S0 for plain RTMP (docs/rtmp.md#c0-and-s0).
const Version = 3

// DefaultClientVersion is the player version a digest client writes into C1
// bytes 4..7 when ClientOptions.Version is zero: 9.0.124.2, what ffmpeg sends.
const DefaultClientVersion uint32 = 0x09007c02

// serverVersion goes into bytes 4..7 of a signed S1. Its first byte must be
// at least 3 or ffmpeg treats the server as simple (docs/rtmp.md#which-handshake-the-server-answers); this is
// the value librtmp's server writes.
const serverVersion uint32 = 0x03050101

var (
	// ErrBadVersion means C0 or S0 was not 3 (plain RTMP). Errors for RTMPE
	// versions also wrap ErrRTMPE.
	ErrBadVersion = errors.New("handshake: unsupported RTMP version")
	// ErrRTMPE means the peer asked for encrypted RTMP (version 6, 8 or 9),
	// which this package does not implement (docs/rtmp.md#c0-and-s0, docs/rtmp.md#rtmpe-and-swf-verification).
	ErrRTMPE = errors.New("handshake: RTMPE (encrypted RTMP) is not supported")
	// ErrBadDigest means a client that signed its C1 got an S1 without a
	// valid digest or an S2 without a valid signature (docs/rtmp.md#which-handshake-the-server-answers).
	ErrBadDigest = errors.New("handshake: bad digest")
)

// Info is what the handshake learned about the peer.
type Info struct {
	// Digest is true when the digest ("FP9") form was used in both
	// directions: the peer's first block carried a valid digest.
	Digest bool
	// Scheme is the digest layout found in the peer's first block, Scheme1
	// or Scheme2; 0 for the simple form.
	Scheme int
	// PeerVersion is bytes 4..7 of the peer's C1/S1: the player or server
	// version for the digest form, zero for the simple form.
	PeerVersion uint32
	// PeerEpoch is bytes 0..3 of the peer's C1/S1, the peer's clock origin
	// for the timestamps it will send (often zero).
	PeerEpoch uint32
}

// checkVersion validates a C0 or S0 byte; who is "C0" or "S0" for the error.
func checkVersion(who string, v byte) error {
	switch {
	case v == Version:
		return nil
	case v == 6 || v == 8 || v == 9:
		return fmt.Errorf("%w: %s = %d: %w", ErrBadVersion, who, v, ErrRTMPE)
	case v >= 32:
		return fmt.Errorf("%w: %s = %#02x, not RTMP (text or HTTP?)", ErrBadVersion, who, v)
	default:
		return fmt.Errorf("%w: %s = %d", ErrBadVersion, who, v)
	}
}

// serverBufLen holds C0+C1 (C2 read over C1) and S0+S1+S2.
const serverBufLen = 1 + BlockSize + 1 + 2*BlockSize

// serverBufs lends Server its buffers. Nothing of them outlives Server:
// the writers it is given copy what they are handed (a socket, a TLS
// record, an RTMPT session's output, a WebSocket frame).
var serverBufs = sync.Pool{New: func() any { return new([serverBufLen]byte) }}

// Server runs the server side of the handshake on rw: it reads C0 and C1,
// writes S0, S1 and S2 in one write, then reads C2 (docs/rtmp.md#handshake, "order that
// works with every client"). A client whose C1 carries a valid digest in
// either scheme gets a signed S1 (same scheme) and S2; any other client gets
// the simple form, S2 being an echo of its C1. C2 is read but not checked:
// ffmpeg and librtmp do not always echo S1 there, and FMS accepts that.
//
// rnd supplies the random bytes of S1 and S2; nil means crypto/rand.
// Server reads no byte past C2.
func Server(rw io.ReadWriter, rnd io.Reader) (Info, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	// c holds C0 then C1; C2 is later read over C1 once S2 is built.
	// Both come from a pool: a connection needs them only for its
	// handshake, and thousands of clients connecting would otherwise
	// leave 4.5 KB of garbage each, which the heap grows by before a GC
	// takes it back (docs/architecture.md#idle-connections).
	bp := serverBufs.Get().(*[serverBufLen]byte)
	defer serverBufs.Put(bp)
	c, out := bp[:1+BlockSize], bp[1+BlockSize:]
	if _, err := io.ReadFull(rw, c[:1]); err != nil {
		return Info{}, fmt.Errorf("handshake: reading C0: %w", err)
	}
	// Check C0 before waiting for C1: an HTTP or RTMPE peer is refused at once.
	if err := checkVersion("C0", c[0]); err != nil {
		return Info{}, err
	}
	c1 := c[1:]
	if _, err := io.ReadFull(rw, c1); err != nil {
		return Info{}, fmt.Errorf("handshake: reading C1: %w", err)
	}
	info := Info{
		PeerEpoch:   binary.BigEndian.Uint32(c1[0:4]),
		PeerVersion: binary.BigEndian.Uint32(c1[4:8]),
	}

	out[0] = Version
	s1, s2 := out[1:1+BlockSize], out[1+BlockSize:]
	// S1 time is our epoch: zero, since this package has no clock (docs/rtmp.md#simple-handshake
	// allows it). The version is zero too unless signed below; the
	// pooled buffer holds the last handshake's bytes.
	clear(s1[:8])
	if _, err := io.ReadFull(rnd, s1[8:]); err != nil {
		return Info{}, fmt.Errorf("handshake: random bytes for S1: %w", err)
	}

	var clientDigest []byte
	if info.PeerVersion != 0 {
		// A non-zero version marks a signed C1 (docs/rtmp.md#digest-handshake); an unsigned one
		// falls back to the simple form (docs/rtmp.md#digest-handshake: FMS accepts them).
		info.Scheme, clientDigest = findDigest(c1, playerKey[:playerKeyShort], Scheme1, Scheme2)
	}
	if clientDigest == nil {
		info.Scheme = 0
		copy(s2, c1) // docs/rtmp.md#simple-handshake: S2 echoes C1
	} else {
		info.Digest = true
		binary.BigEndian.PutUint32(s1[4:8], serverVersion)
		imprint(s1, info.Scheme, serverKey[:serverKeyShort])
		if _, err := io.ReadFull(rnd, s2[:BlockSize-digestLen]); err != nil {
			return Info{}, fmt.Errorf("handshake: random bytes for S2: %w", err)
		}
		signSecond(s2, secondBlockKey(serverKey, clientDigest))
	}
	if _, err := rw.Write(out); err != nil {
		return Info{}, fmt.Errorf("handshake: writing S0+S1+S2: %w", err)
	}
	if _, err := io.ReadFull(rw, c1); err != nil {
		return Info{}, fmt.Errorf("handshake: reading C2: %w", err)
	}
	return info, nil
}

// ClientOptions configures Client.
type ClientOptions struct {
	// Digest makes the client sign C1 (scheme 1, like ffmpeg) and verify the
	// server's S1 digest and S2 signature when the server answers in the
	// digest form. False sends a simple C1 (version 0), like librtmp and OBS.
	Digest bool
	// Rand supplies the random bytes of C1 and C2; nil means crypto/rand.
	Rand io.Reader
	// Version is written into C1 bytes 4..7 when Digest is set; zero means
	// DefaultClientVersion (9.0.124.2). Ignored for the simple form, whose
	// version field must be zero.
	Version uint32
}

// Client runs the client side of the handshake on rw: it writes C0 and C1 in
// one write, reads S0, S1 and S2, then writes C2. With opts.Digest, a server
// that answers with S1 version byte >= 3 must sign S1 (either scheme) and S2
// correctly, else the error wraps ErrBadDigest; a server answering with a
// lower version is treated as simple, as ffmpeg does (docs/rtmp.md#which-handshake-the-server-answers).
// Client reads no byte past S2.
func Client(rw io.ReadWriter, opts ClientOptions) (Info, error) {
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	c := make([]byte, 1+BlockSize)
	c[0] = Version
	c1 := c[1:]
	if _, err := io.ReadFull(rnd, c1[8:]); err != nil {
		return Info{}, fmt.Errorf("handshake: random bytes for C1: %w", err)
	}
	var myDigest []byte
	if opts.Digest {
		v := opts.Version
		if v == 0 {
			v = DefaultClientVersion
		}
		binary.BigEndian.PutUint32(c1[4:8], v)
		// Copy the digest: c1 is reused for C2 below.
		myDigest = append([]byte(nil), imprint(c1, Scheme1, playerKey[:playerKeyShort])...)
	}
	if _, err := rw.Write(c); err != nil {
		return Info{}, fmt.Errorf("handshake: writing C0+C1: %w", err)
	}

	s := make([]byte, 1+2*BlockSize)
	if _, err := io.ReadFull(rw, s[:1]); err != nil {
		return Info{}, fmt.Errorf("handshake: reading S0: %w", err)
	}
	if err := checkVersion("S0", s[0]); err != nil {
		return Info{}, err
	}
	// Read S1 and S2 together before writing C2: a server that writes
	// S0+S1+S2 in one go over a synchronous pipe would deadlock otherwise.
	if _, err := io.ReadFull(rw, s[1:]); err != nil {
		return Info{}, fmt.Errorf("handshake: reading S1+S2: %w", err)
	}
	s1, s2 := s[1:1+BlockSize], s[1+BlockSize:]
	info := Info{
		PeerEpoch:   binary.BigEndian.Uint32(s1[0:4]),
		PeerVersion: binary.BigEndian.Uint32(s1[4:8]),
	}

	c2 := c1
	if opts.Digest && s1[4] >= 3 {
		// ffmpeg searches scheme 2 first; the order only matters for a
		// block that would be valid in both, which is negligible.
		scheme, serverDigest := findDigest(s1, serverKey[:serverKeyShort], Scheme2, Scheme1)
		if serverDigest == nil {
			return info, fmt.Errorf("%w: S1 (version %#08x) has no valid digest in either scheme", ErrBadDigest, info.PeerVersion)
		}
		if !checkSecond(s2, secondBlockKey(serverKey, myDigest)) {
			return info, fmt.Errorf("%w: S2 signature does not match our C1 digest", ErrBadDigest)
		}
		info.Digest, info.Scheme = true, scheme
		if _, err := io.ReadFull(rnd, c2[:BlockSize-digestLen]); err != nil {
			return info, fmt.Errorf("handshake: random bytes for C2: %w", err)
		}
		signSecond(c2, secondBlockKey(playerKey, serverDigest))
	} else {
		copy(c2, s1) // docs/rtmp.md#simple-handshake: C2 echoes S1
	}
	if _, err := rw.Write(c2); err != nil {
		return info, fmt.Errorf("handshake: writing C2: %w", err)
	}
	return info, nil
}
