package webrtc

import (
	"bytes"
	"testing"

	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/rtph264"
)

// The FLV side of the mapping, byte for byte (docs/webrtc.md#mapping).
func TestMappingTags(t *testing.T) {
	t.Parallel()
	opus := []byte{0xfc, 0xff, 0xfe}
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"Opus frame: E-RTMP CodedFrames, FourCC Opus", opusTag(flv.AudioCodedFrames, opus), append([]byte{0x91, 'O', 'p', 'u', 's'}, opus...)},
		{"Opus SequenceStart: OpusHead, 2 channels, 48 kHz", opusTag(flv.AudioSequenceStart, opusHead()),
			append([]byte{0x90, 'O', 'p', 'u', 's'}, []byte("OpusHead\x01\x02\x00\x00\x80\xbb\x00\x00\x00\x00\x00")...)},
		{"PCMU as ffmpeg writes it: format 8, 16-bit mono", g711Tag(flv.SoundG711MuLaw, []byte{1, 2}), []byte{0x82, 1, 2}},
		{"PCMA: format 7", g711Tag(flv.SoundG711ALaw, []byte{3}), []byte{0x72, 3}},
		{"AVC keyframe: frame type 1, NALU, CTS 0", avcFrame([]byte{0, 0, 0, 1, 0x65}, true), []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}},
		{"AVC inter frame", avcFrame([]byte{0, 0, 0, 1, 0x41}, false), []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s:\n got %x\nwant %x", tt.name, tt.got, tt.want)
		}
	}
	hdr, err := avcSequenceHeader([][]byte{{0x67, 0x42, 0xc0, 0x1f}}, [][]byte{{0x68, 0xce}})
	if err != nil || !bytes.Equal(hdr[:5], []byte{0x17, 0, 0, 0, 0}) {
		t.Fatalf("sequence header %x, %v", hdr, err)
	}
	if _, err := rtph264.ParseConfig(hdr[5:]); err != nil {
		t.Fatalf("sequence header record: %v", err)
	}
}

// audioCodec reads what the outlet needs of an FLV audio tag.
func TestAudioCodec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tag    []byte
		codec  string
		data   []byte
		config bool
	}{
		{"E-RTMP Opus frame", opusTag(flv.AudioCodedFrames, []byte{9}), "opus", []byte{9}, false},
		{"E-RTMP Opus SequenceStart", opusTag(flv.AudioSequenceStart, opusHead()), "opus", opusHead(), true},
		{"PCMU", g711Tag(flv.SoundG711MuLaw, []byte{5}), "pcmu", []byte{5}, false},
		{"PCMA", g711Tag(flv.SoundG711ALaw, []byte{6}), "pcma", []byte{6}, false},
		{"ffmpeg AAC sequence header", []byte{0xaf, 0, 0x12, 0x10}, "aac", nil, true},
		{"ffmpeg AAC frame", []byte{0xaf, 1, 0x21}, "aac", nil, false},
		{"Nellymoser 22 kHz", []byte{0x6a, 1, 2}, "nellymoser", nil, false},
		{"Speex", []byte{0xb2, 1, 2}, "speex", nil, false},
		{"empty", nil, "", nil, false},
	}
	for _, tt := range tests {
		codec, data, config := audioCodec(tt.tag)
		if codec != tt.codec || !bytes.Equal(data, tt.data) || config != tt.config {
			t.Errorf("%s: %q %x %v, want %q %x %v", tt.name, codec, data, config, tt.codec, tt.data, tt.config)
		}
		if codec != "" && codec != "opus" && codec != "pcmu" && codec != "pcma" && !convertible[codec] {
			t.Errorf("%s: %q is neither carried nor convertible", tt.name, codec)
		}
	}
}

// rtpClock places a track's first packet at its arrival and follows the
// RTP timestamps after, across the 32-bit wrap.
func TestRTPClock(t *testing.T) {
	t.Parallel()
	c := rtpClock{rate: 90000}
	steps := []struct {
		ts      uint32
		arrival int64
		want    uint32
	}{
		{0xffffff00 - 90000, 500, 500}, // first packet: its arrival
		{0xffffff00, 9999, 1500},       // one second later by RTP, whatever the arrival
		{90000 - 0x100, 0, 2500},       // past the wrap
		{45000 - 0x100, 0, 2000},       // a late packet goes back, it does not wrap
	}
	for i, s := range steps {
		if got := c.ms(s.ts, s.arrival); got != s.want {
			t.Errorf("step %d: %d ms, want %d", i, got, s.want)
		}
	}
}
