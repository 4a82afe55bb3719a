// Package flvtest builds synthetic FLV files for the tests of recorded
// playback: the tags a recording of a live H.264 + AAC stream would hold,
// with payloads that only mark their frame number.
package flvtest

import (
	"slices"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media/flv"
)

// Synth returns an FLV of dur ms: onMetaData with the duration and extra
// when meta is set, the AVC and AAC sequence headers, 25 fps video with a
// keyframe every gop frames (no video at all when gop is 0) and AAC frames
// every 1024/44.1 ms, in timestamp order. Each frame's last byte is its
// index.
func Synth(dur uint32, gop int, meta bool, extra ...amf.Prop) []byte {
	flags := uint8(flv.FlagAudio)
	if gop > 0 {
		flags |= flv.FlagVideo
	}
	b := flv.AppendHeader(nil, flags)
	if meta {
		props := append([]amf.Prop{{Key: "duration", Value: amf.Number(float64(dur) / 1000)}}, extra...)
		m, err := amf.AppendAMF0Values(nil, amf.String("onMetaData"), amf.ECMAArray(props...))
		if err != nil {
			panic(err) // a number and the caller's constants: not expected
		}
		b = flv.AppendTag(b, flv.TagScript, 0, m)
	}
	if gop > 0 {
		b = flv.AppendTag(b, flv.TagVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e})
	}
	b = flv.AppendTag(b, flv.TagAudio, 0, []byte{0xaf, 0, 0x12, 0x10})
	type tag struct {
		ts  uint32
		typ uint8
		p   []byte
	}
	var tags []tag
	for i := 0; gop > 0 && uint32(i*40) < dur; i++ {
		p := []byte{0x27, 1, 0, 0, 0, byte(i)}
		if i%gop == 0 {
			p[0] = 0x17
		}
		tags = append(tags, tag{uint32(i * 40), flv.TagVideo, p})
	}
	for i := 0; uint32(i*1024*1000/44100) < dur; i++ {
		tags = append(tags, tag{uint32(i * 1024 * 1000 / 44100), flv.TagAudio, []byte{0xaf, 1, byte(i)}})
	}
	slices.SortStableFunc(tags, func(a, b tag) int { return int(a.ts) - int(b.ts) })
	for _, t := range tags {
		b = flv.AppendTag(b, t.typ, t.ts, t.p)
	}
	return b
}
