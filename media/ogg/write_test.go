package ogg

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestAppendPageRoundTrip(t *testing.T) {
	var b []byte
	sizes := []int{19, 0, 254, 255, 256, 510, 4000, MaxPacket}
	for i, n := range sizes {
		b = AppendPage(b, 0, int64(960*(i+1)), 7, uint32(i), bytes.Repeat([]byte{byte(i + 1)}, n))
	}
	rd := NewReader(bytes.NewReader(b), MaxPacket)
	for i, n := range sizes {
		p, err := rd.Next()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if len(p.Data) != n || (n > 0 && p.Data[0] != byte(i+1)) || p.Granule != int64(960*(i+1)) {
			t.Fatalf("packet %d: %d bytes granule %d, want %d bytes granule %d", i, len(p.Data), p.Granule, n, 960*(i+1))
		}
	}
}

// The page checksum is CRC-32/CKSUM without its final inversion: the
// catalogue's check value for "123456789" is 0x765e7680 after inverting.
func TestPageChecksum(t *testing.T) {
	var crc uint32
	for _, b := range []byte("123456789") {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^b]
	}
	if crc != ^uint32(0x765e7680) {
		t.Fatalf("crc %#x, want %#x", crc, ^uint32(0x765e7680))
	}
	page := AppendPage(nil, FlagFirst, 0, 1, 0, []byte("OpusHead"))
	if binary.LittleEndian.Uint32(page[22:]) == 0 {
		t.Fatal("checksum not filled in")
	}
}
