package rtph264

import (
	"bytes"
	"fmt"
)

// IsAnnexB reports whether b starts with an Annex-B start code (00 00 01
// or 00 00 00 01). Some publishers put Annex-B units in FLV AVC tags
// (ffmpeg's tee muxer does, sequence header included) where AVCC length
// prefixes belong. The test is ambiguous: an AVCC unit of 256 to 511
// bytes starts with 00 00 01 too, so try SplitAVCC first and this only
// when that fails.
func IsAnnexB(b []byte) bool {
	return len(b) >= 3 && b[0] == 0 && b[1] == 0 && (b[2] == 1 || (len(b) >= 4 && b[2] == 0 && b[3] == 1))
}

// SplitAnnexB splits Annex-B bytes (ITU-T H.264 Annex B: units separated
// by 00 00 01 or 00 00 00 01) into dst; trailing zero bytes of a unit are
// dropped. The results alias b. At most maxNALs units are accepted.
func SplitAnnexB(dst [][]byte, b []byte, maxNALs int) ([][]byte, error) {
	start := bytes.Index(b, []byte{0, 0, 1})
	if start < 0 {
		return dst, fmt.Errorf("%w: no Annex-B start code", ErrMalformed)
	}
	b = b[start+3:]
	n := 0
	for len(b) > 0 {
		next := bytes.Index(b, []byte{0, 0, 1})
		nal := b
		if next >= 0 {
			nal, b = b[:next], b[next+3:]
		} else {
			b = nil
		}
		for len(nal) > 0 && nal[len(nal)-1] == 0 {
			nal = nal[:len(nal)-1]
		}
		if len(nal) == 0 {
			continue
		}
		if n++; n > maxNALs {
			return dst, fmt.Errorf("%w: more than %d NAL units", ErrTooLarge, maxNALs)
		}
		dst = append(dst, nal)
	}
	return dst, nil
}
