package ogg

import "encoding/binary"

// Page header flags a writer sets.
const (
	FlagFirst = 0x02 // beginning of stream: the page of the codec's identification header
	FlagLast  = 0x04 // end of stream
)

// MaxPacket is the largest packet AppendPage puts on one page: 255
// segments of 255 bytes, the last shorter so the packet ends on the page.
const MaxPacket = 255*255 - 1

// crcTable is the CRC-32 of RFC 3533 (polynomial 0x04c11db7, not
// reflected, initial value 0), which Go's hash/crc32 does not offer.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// AppendPage appends one page that holds exactly packet (at most
// MaxPacket bytes; longer packets are cut there): a writer that puts one
// packet per page lets the reader at the other end of a pipe have each
// packet as soon as it is written. granule is the position at the end of
// the packet, seq the page's sequence number in the stream.
func AppendPage(dst []byte, flags byte, granule int64, serial, seq uint32, packet []byte) []byte {
	if len(packet) > MaxPacket {
		packet = packet[:MaxPacket]
	}
	start := len(dst)
	nseg := len(packet)/255 + 1
	dst = append(dst, 'O', 'g', 'g', 'S', 0, flags)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(granule))
	dst = binary.LittleEndian.AppendUint32(dst, serial)
	dst = binary.LittleEndian.AppendUint32(dst, seq)
	dst = append(dst, 0, 0, 0, 0, byte(nseg))
	for range nseg - 1 {
		dst = append(dst, 255)
	}
	dst = append(dst, byte(len(packet)%255))
	dst = append(dst, packet...)
	var crc uint32
	for _, b := range dst[start:] {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^b]
	}
	binary.LittleEndian.PutUint32(dst[start+22:], crc)
	return dst
}
