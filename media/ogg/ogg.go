// Package ogg reads the packets of one logical Ogg bitstream (RFC 3533):
// what ffmpeg writes when it encodes Opus for the WebRTC side
// (docs/webrtc.md#conversion). It is a codec package: no sockets, no
// logging; every size a page declares is checked against a limit before
// anything is allocated.
//
// What it leaves out: multiplexed streams (pages of other serial numbers
// are skipped), seeking, and the page checksum, which guards storage
// media; the bytes come through a local pipe.
package ogg

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors callers branch on.
var (
	// ErrMalformed: bytes that are not an Ogg page where one belongs.
	ErrMalformed = errors.New("ogg: malformed page")
	// ErrTooLarge: a packet over the reader's limit.
	ErrTooLarge = errors.New("ogg: packet over the size limit")
)

// headerSize is the fixed part of a page header, before the segment table.
const headerSize = 27

// Page header flags.
const (
	flagContinued = 0x01 // the first packet continues one of the previous page
)

// Packet is one packet of the stream.
type Packet struct {
	Data []byte // valid until the next call of Next
	// Granule is the granule position of the page on which the packet
	// ends, for the page's last packet; -1 for packets that end earlier
	// on their page (RFC 3533: the position belongs to the last packet).
	Granule int64
}

// Reader reads packets from a byte stream of Ogg pages.
type Reader struct {
	r       *bufio.Reader
	max     int
	serial  uint32
	haveSer bool

	hdr  [headerSize]byte
	segs [255]byte
	page []byte // the current page's body
	lace []byte // segment sizes of the current page still to read
	gran int64
	pkt  []byte // the packet being assembled
	bad  bool   // the packet being assembled lost its beginning
}

// NewReader reads from r; packets over maxPacket bytes fail with
// ErrTooLarge.
func NewReader(r io.Reader, maxPacket int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: maxPacket}
}

// Next returns the next complete packet. It returns io.EOF at the end of
// the input, and an error wrapping ErrMalformed or ErrTooLarge for bad
// input, after which the reader is unusable.
func (rd *Reader) Next() (Packet, error) {
	for {
		for len(rd.lace) > 0 {
			n := int(rd.lace[0])
			rd.lace = rd.lace[1:]
			if len(rd.pkt)+n > rd.max {
				return Packet{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, rd.max)
			}
			rd.pkt = append(rd.pkt, rd.page[:n]...)
			rd.page = rd.page[n:]
			if n == 255 {
				continue // the packet goes on in the next segment
			}
			data := rd.pkt
			rd.pkt = rd.pkt[:0]
			if rd.bad {
				rd.bad = false
				continue
			}
			g := int64(-1)
			if len(rd.lace) == 0 {
				g = rd.gran
			}
			return Packet{Data: data, Granule: g}, nil
		}
		if err := rd.readPage(); err != nil {
			return Packet{}, err
		}
	}
}

// readPage reads the next page of the stream's serial number.
func (rd *Reader) readPage() error {
	for {
		if _, err := io.ReadFull(rd.r, rd.hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: truncated header", ErrMalformed)
			}
			return err
		}
		h := rd.hdr[:]
		if string(h[:4]) != "OggS" || h[4] != 0 {
			return fmt.Errorf("%w: no capture pattern", ErrMalformed)
		}
		flags := h[5]
		gran := int64(binary.LittleEndian.Uint64(h[6:]))
		serial := binary.LittleEndian.Uint32(h[14:])
		nsegs := int(h[26])
		segs := rd.segs[:nsegs]
		if _, err := io.ReadFull(rd.r, segs); err != nil {
			return fmt.Errorf("%w: truncated segment table", ErrMalformed)
		}
		size := 0
		for _, s := range segs {
			size += int(s)
		}
		// A page body is at most 255*255 bytes: the table bounds it.
		if cap(rd.page) < size {
			rd.page = make([]byte, size)
		}
		rd.page = rd.page[:size]
		if _, err := io.ReadFull(rd.r, rd.page); err != nil {
			return fmt.Errorf("%w: truncated body", ErrMalformed)
		}
		if !rd.haveSer {
			rd.serial, rd.haveSer = serial, true
		}
		if serial != rd.serial {
			continue
		}
		// A packet in progress that this page does not continue lost its
		// end; one that a page continues without a start lost its
		// beginning. Both are dropped.
		if flags&flagContinued == 0 {
			rd.pkt = rd.pkt[:0]
			rd.bad = false
		} else if len(rd.pkt) == 0 {
			rd.bad = true
		}
		rd.lace = segs
		rd.gran = gran
		return nil
	}
}
