package handshake

import (
	"crypto/hmac"
	"crypto/sha256"
)

// BlockSize is the size of C1, C2, S1 and S2 (docs/rtmp.md#handshake).
const BlockSize = 1536

const digestLen = sha256.Size // 32

// tail32 is the 32-byte suffix shared by both keys (docs/rtmp.md#digest-handshake).
var tail32 = []byte{
	0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
	0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
}

var (
	// playerKey is the 62-byte full player key; playerKey[:30] signs C1.
	playerKey = append([]byte("Genuine Adobe Flash Player 001"), tail32...)
	// serverKey is the 68-byte full server key; serverKey[:36] signs S1.
	serverKey = append([]byte("Genuine Adobe Flash Media Server 001"), tail32...)
)

const (
	playerKeyShort = 30
	serverKeyShort = 36
)

// Digest layouts of docs/rtmp.md#digest-handshake. The numbering follows that document:
// scheme 1 puts the digest in the first 764-byte half (what ffmpeg and
// librtmp use for plain RTMP), scheme 2 in the second (their RTMPE layout).
// Some code calls these "scheme 0" and "scheme 1".
const (
	// Scheme1 is the digest layout with the offset computed from bytes 8..11.
	Scheme1 = 1
	// Scheme2 is the digest layout with the offset computed from bytes 772..775.
	Scheme2 = 2
)

// digestOffset returns where the 32-byte digest sits in a 1536-byte block
// for the given scheme (docs/rtmp.md#digest-handshake). The modulus keeps the digest inside
// the block: bytes [12, 771) at most for scheme 1, [776, 1536) for scheme 2.
func digestOffset(block []byte, scheme int) int {
	if scheme == Scheme2 {
		s := int(block[772]) + int(block[773]) + int(block[774]) + int(block[775])
		return s%728 + 776
	}
	s := int(block[8]) + int(block[9]) + int(block[10]) + int(block[11])
	return s%728 + 12
}

// blockDigest computes HMAC-SHA256(key, block without the 32 digest bytes at
// off) (docs/rtmp.md#digest-handshake) and appends it to dst.
func blockDigest(dst, block []byte, off int, key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(block[:off])
	m.Write(block[off+digestLen:])
	return m.Sum(dst)
}

// imprint signs block in place at the given scheme and returns the digest
// (a subslice of block).
func imprint(block []byte, scheme int, key []byte) []byte {
	off := digestOffset(block, scheme)
	var d [digestLen]byte
	blockDigest(d[:0], block, off, key)
	copy(block[off:], d[:])
	return block[off : off+digestLen]
}

// findDigest looks for a valid digest in block, trying the schemes in the
// given order, and returns the scheme and the digest (a subslice of block),
// or 0, nil.
func findDigest(block []byte, key []byte, schemes ...int) (int, []byte) {
	var d [digestLen]byte
	for _, s := range schemes {
		off := digestOffset(block, s)
		got := blockDigest(d[:0], block, off, key)
		if hmac.Equal(got, block[off:off+digestLen]) {
			return s, block[off : off+digestLen]
		}
	}
	return 0, nil
}

// secondBlockKey derives the key that signs C2 or S2 from the peer's first
// block digest (docs/rtmp.md#digest-handshake): HMAC-SHA256(fullKey, peerDigest).
func secondBlockKey(fullKey, peerDigest []byte) []byte {
	m := hmac.New(sha256.New, fullKey)
	m.Write(peerDigest)
	return m.Sum(nil)
}

// signSecond fills block[1504:] with HMAC-SHA256(key, block[:1504]).
func signSecond(block, key []byte) {
	m := hmac.New(sha256.New, key)
	m.Write(block[:BlockSize-digestLen])
	m.Sum(block[:BlockSize-digestLen])
}

// checkSecond reports whether block[1504:] is the signature of block[:1504]
// under key.
func checkSecond(block, key []byte) bool {
	m := hmac.New(sha256.New, key)
	m.Write(block[:BlockSize-digestLen])
	var d [digestLen]byte
	return hmac.Equal(m.Sum(d[:0]), block[BlockSize-digestLen:])
}
