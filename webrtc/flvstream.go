package webrtc

import (
	"bufio"
	"fmt"
	"io"

	"github.com/openfcs/openfcs/media/flv"
)

// readFLVTags reads an FLV byte stream as a converter writes it on its
// stdout (the file header, then tags), calling fn with each audio and
// video tag; other tags (ffmpeg's onMetaData) are skipped. body is valid
// only during the call. A tag over maxTag bytes, or bytes that are not
// FLV, end the reading with an error: the stream comes from a process
// the server started, but its size fields are still checked before
// anything is allocated.
func readFLVTags(r io.Reader, maxTag int, fn func(typ uint8, ms uint32, body []byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var head [flv.HeaderSize]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return err
	}
	h, err := flv.ParseHeader(head[:])
	if err != nil {
		return err
	}
	if h.DataOffset > 1<<10 {
		return fmt.Errorf("webrtc: converter output: FLV DataOffset %d", h.DataOffset)
	}
	if _, err := br.Discard(int(h.DataOffset) - flv.HeaderSize + flv.PrevSizeLen); err != nil {
		return err
	}
	var th [flv.TagHeaderSize]byte
	var body []byte
	for {
		if _, err := io.ReadFull(br, th[:]); err != nil {
			return err
		}
		t, err := flv.ParseTagHeader(th[:])
		if err != nil {
			return err
		}
		if int(t.Size) > maxTag {
			return fmt.Errorf("webrtc: converter output: tag of %d bytes over the limit of %d", t.Size, maxTag)
		}
		if cap(body) < int(t.Size) {
			body = make([]byte, t.Size)
		}
		body = body[:t.Size]
		if _, err := io.ReadFull(br, body); err != nil {
			return err
		}
		if _, err := br.Discard(flv.PrevSizeLen); err != nil {
			return err
		}
		if (t.Type == flv.TagAudio || t.Type == flv.TagVideo) && !t.Filter && len(body) > 0 {
			fn(t.Type, t.Time, body)
		}
	}
}
