package flv

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex decodes a hex string with optional spaces; quoted runs 'xxxx' are
// literal ASCII (FourCCs), which keeps the vectors readable.
func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	var out []byte
	for len(s) > 0 {
		switch s[0] {
		case ' ':
			s = s[1:]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			out = append(out, s[1:1+end]...)
			s = s[end+2:]
		default:
			b, err := hex.DecodeString(s[:2])
			if err != nil {
				tb.Fatalf("bad hex %q: %v", s, err)
			}
			out = append(out, b...)
			s = s[2:]
		}
	}
	return out
}

type videoCase struct {
	name   string
	in     string
	key    bool
	seq    bool
	config bool
	err    bool
	want   VideoHeader // checked when !err; DataOffset 0 means "don't check"
}

var videoCases = []videoCase{
	{name: "docs/flv.md#test-vectors AVC sequence header", in: "17 00 00 00 00 01 42 c0 1e ff e1 00 08 67 42 c0 1e da 05 07 e4 01 00 04 68 ce 3c 80",
		seq: true, config: true, want: VideoHeader{FrameType: FrameKey, Codec: VideoAVC, PacketType: 0, DataOffset: 5}},
	{name: "ffmpeg h264 IDR", in: "17 01 00 00 00 00 00 00 05 65 88 84 00 10",
		key: true, want: VideoHeader{FrameType: FrameKey, Codec: VideoAVC, PacketType: 1, DataOffset: 5}},
	{name: "docs/flv.md#test-vectors AVC inter +40 ms", in: "27 01 00 00 28 00 00 00 02 41 9a",
		want: VideoHeader{FrameType: FrameInter, Codec: VideoAVC, PacketType: 1, CompositionTime: 40, DataOffset: 5}},
	{name: "docs/flv.md#test-vectors AVC inter -40 ms", in: "27 01 ff ff d8 00 00 00 02 41 9a",
		want: VideoHeader{FrameType: FrameInter, Codec: VideoAVC, PacketType: 1, CompositionTime: -40, DataOffset: 5}},
	{name: "docs/flv.md#test-vectors AVC end of sequence", in: "17 02 00 00 00",
		want: VideoHeader{FrameType: FrameKey, Codec: VideoAVC, PacketType: 2, DataOffset: 5}},
	{name: "AVC truncated after packet type", in: "17 00", err: true},
	{name: "AVC command frame (seek start)", in: "57 00",
		want: VideoHeader{FrameType: FrameCommand, Codec: VideoAVC, DataOffset: 1}},
	{name: "empty video message", in: "", err: true},
	{name: "flash sorenson keyframe", in: "12 00 00 84 00 81 1a 04 8c",
		key: true, want: VideoHeader{FrameType: FrameKey, Codec: VideoSorenson, DataOffset: 1}},
	{name: "flash sorenson inter", in: "22 00 00 84 00 82", want: VideoHeader{FrameType: FrameInter, Codec: VideoSorenson, DataOffset: 1}},
	{name: "flash sorenson disposable", in: "32 00 00 84", want: VideoHeader{FrameType: FrameDisposable, Codec: VideoSorenson, DataOffset: 1}},
	{name: "flash screen video keyframe", in: "13 4f 0f 41 e0", key: true, want: VideoHeader{FrameType: FrameKey, Codec: VideoScreen, DataOffset: 1}},
	{name: "flash 8 VP6 keyframe", in: "14 00 00 78 46", key: true, want: VideoHeader{FrameType: FrameKey, Codec: VideoVP6, DataOffset: 1}},
	{name: "flash 8 VP6 alpha inter", in: "25 00 00 00 10", want: VideoHeader{FrameType: FrameInter, Codec: VideoVP6Alpha, DataOffset: 1}},
	{name: "docs/flv.md#broken-and-hostile-files unknown codec keyframe", in: "1f 01 02", key: true, want: VideoHeader{FrameType: FrameKey, Codec: 15, DataOffset: 1}},
	{name: "fork HEVC id 12 sequence header", in: "1c 00 00 00 00 01 01 60", seq: true, config: true,
		want: VideoHeader{FrameType: FrameKey, Codec: VideoHEVCFork, DataOffset: 5}},
	{name: "fork HEVC id 12 keyframe", in: "1c 01 00 00 00 00 00 00 01 26", key: true,
		want: VideoHeader{FrameType: FrameKey, Codec: VideoHEVCFork, PacketType: 1, DataOffset: 5}},
	{name: "obs hevc E-RTMP SequenceStart", in: "90 'hvc1' 01 01 60 00 00 00", seq: true, config: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, FourCC: FourCCHEVC, DataOffset: 5}},
	{name: "obs hevc E-RTMP CodedFrames keyframe", in: "91 'hvc1' 00 00 21 00 00 00 01 26", key: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, PacketType: 1, FourCC: FourCCHEVC, CompositionTime: 33, DataOffset: 8}},
	{name: "ffmpeg 7 hevc CodedFramesX inter", in: "a3 'hvc1' 00 00 00 01 02",
		want: VideoHeader{Ex: true, FrameType: FrameInter, PacketType: 3, FourCC: FourCCHEVC, DataOffset: 5}},
	{name: "obs av1 CodedFrames keyframe", in: "91 'av01' 12 00 0a", key: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, PacketType: 1, FourCC: FourCCAV1, DataOffset: 5}},
	{name: "obs hevc E-RTMP SequenceEnd", in: "92 'hvc1'",
		want: VideoHeader{Ex: true, FrameType: FrameKey, PacketType: 2, FourCC: FourCCHEVC, DataOffset: 5}},
	{name: "obs hevc HDR metadata", in: "94 'hvc1' 02 00 09 63 6f 6c 6f 72 49 6e 66 6f", config: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, PacketType: 4, FourCC: FourCCHEVC, DataOffset: 5}},
	{name: "E-RTMP metadata with command frame type", in: "d4 'hvc1' 02", config: true,
		want: VideoHeader{Ex: true, FrameType: FrameCommand, PacketType: 4, FourCC: FourCCHEVC, DataOffset: 5}},
	{name: "E-RTMP command frame", in: "d0 01",
		want: VideoHeader{Ex: true, FrameType: FrameCommand, Command: 1, DataOffset: 2}},
	{name: "E-RTMP command frame truncated", in: "d1", err: true},
	{name: "E-RTMP FourCC truncated", in: "90 'hv'", err: true},
	{name: "obs multitrack OneTrack SequenceStart", in: "96 00 'hvc1' 02 01 01 60", seq: true, config: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, FourCC: FourCCHEVC, Multitrack: true, TrackID: 2, DataOffset: 7}},
	{name: "multitrack ManyTracks keyframe", in: "96 11 'av01' 00 00 00 02 aa bb 01 00 00 01 cc", key: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, PacketType: 1, FourCC: FourCCAV1, Multitrack: true, MultitrackType: ManyTracks, DataOffset: 10}},
	{name: "multitrack ManyTracksManyCodecs keyframe", in: "96 21 'hvc1' 01 00 00 05 00 00 00 aa bb", key: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, PacketType: 1, FourCC: FourCCHEVC, Multitrack: true, MultitrackType: ManyTracksManyCodecs, TrackID: 1, DataOffset: 13}},
	{name: "multitrack track size beyond payload", in: "96 11 'av01' 00 00 00 09 aa", err: true},
	{name: "multitrack nested", in: "96 06 'av01' 00", err: true},
	{name: "multitrack unknown type", in: "96 31 'av01' 00", err: true},
	{name: "ModEx nano offset then SequenceStart", in: "97 02 00 01 02 00 'hvc1' 01", seq: true, config: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, FourCC: FourCCHEVC, DataOffset: 10}},
	{name: "ModEx 16-bit size truncated", in: "a7 ff 00", err: true},
	{name: "ModEx truncated", in: "97 05 00", err: true},
	{name: "ModEx then multitrack keyframe", in: "97 00 aa 06 01 'av01' 03 00", key: true,
		want: VideoHeader{Ex: true, FrameType: FrameKey, PacketType: 1, FourCC: FourCCAV1, Multitrack: true, TrackID: 3, DataOffset: 10}},
}

func TestVideo(t *testing.T) {
	for _, tc := range videoCases {
		t.Run(tc.name, func(t *testing.T) {
			p := unhex(t, tc.in)
			if got := IsVideoKeyframe(p); got != tc.key {
				t.Errorf("IsVideoKeyframe = %v, want %v", got, tc.key)
			}
			if got := IsVideoSequenceHeader(p); got != tc.seq {
				t.Errorf("IsVideoSequenceHeader = %v, want %v", got, tc.seq)
			}
			c := ClassifyVideo(p)
			if c.Keyframe != tc.key || c.Config != tc.config {
				t.Errorf("ClassifyVideo = %+v, want keyframe %v config %v", c, tc.key, tc.config)
			}
			h, err := ParseVideoHeader(p)
			if tc.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseVideoHeader err = %v, want ErrMalformed", err)
				}
				if !strings.Contains(err.Error(), "offset") {
					t.Errorf("error %q does not name the offset", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseVideoHeader: %v", err)
			}
			if h != tc.want {
				t.Errorf("ParseVideoHeader =\n %+v, want\n %+v", h, tc.want)
			}
		})
	}
}

func TestModEx16BitSize(t *testing.T) {
	// size byte 0xff switches to a UI16 size: 0x0000+1 = 1 byte of data.
	p := unhex(t, "a7 ff 00 00 55 03 'vp09' 77")
	h, err := ParseVideoHeader(p)
	if err != nil {
		t.Fatal(err)
	}
	want := VideoHeader{Ex: true, FrameType: FrameInter, PacketType: VideoCodedFramesX, FourCC: FourCCVP9, DataOffset: 10}
	if h != want {
		t.Errorf("got %+v, want %+v", h, want)
	}
}

type audioCase struct {
	name   string
	in     string
	seq    bool
	config bool
	err    bool
	want   AudioHeader
}

var audioCases = []audioCase{
	{name: "docs/flv.md#test-vectors AAC sequence header", in: "af 00 12 10", seq: true, config: true,
		want: AudioHeader{Format: SoundAAC, Rate: 3, Size16: true, Stereo: true, DataOffset: 2}},
	{name: "ffmpeg AAC raw frame", in: "af 01 21 10 05", want: AudioHeader{Format: SoundAAC, Rate: 3, Size16: true, Stereo: true, PacketType: 1, DataOffset: 2}},
	{name: "AAC truncated", in: "af", err: true},
	{name: "docs/flv.md#test-vectors MP3 44 kHz stereo", in: "2f ff fb 90 64", want: AudioHeader{Format: SoundMP3, Rate: 3, Size16: true, Stereo: true, DataOffset: 1}},
	{name: "MP3 8 kHz", in: "e2 ff e3 18 c4", want: AudioHeader{Format: SoundMP38k, Size16: true, DataOffset: 1}},
	{name: "flash speex", in: "b2 1a 2b", want: AudioHeader{Format: SoundSpeex, Size16: true, DataOffset: 1}},
	{name: "flash nellymoser 11 kHz", in: "66 01 02", want: AudioHeader{Format: SoundNelly, Rate: 1, Size16: true, DataOffset: 1}},
	{name: "flash nellymoser 8 kHz", in: "52 01", want: AudioHeader{Format: SoundNelly8k, Size16: true, DataOffset: 1}},
	{name: "G.711 µ-law", in: "82 ff 7f", want: AudioHeader{Format: SoundG711MuLaw, Size16: true, DataOffset: 1}},
	{name: "G.711 A-law", in: "72 d5", want: AudioHeader{Format: SoundG711ALaw, Size16: true, DataOffset: 1}},
	{name: "PCM LE 44 kHz 16-bit stereo", in: "3f 00 00", want: AudioHeader{Format: SoundPCMLE, Rate: 3, Size16: true, Stereo: true, DataOffset: 1}},
	{name: "empty audio message", in: "", err: true},
	{name: "obs opus SequenceStart", in: "90 'Opus' 4f 70 75 73 48 65 61 64", seq: true, config: true,
		want: AudioHeader{Format: SoundExHeader, FourCC: FourCCOpus, DataOffset: 5}},
	{name: "obs opus CodedFrames", in: "91 'Opus' fc ff", want: AudioHeader{Format: SoundExHeader, PacketType: 1, FourCC: FourCCOpus, DataOffset: 5}},
	{name: "E-RTMP MultichannelConfig", in: "94 'Opus' 01 02", config: true,
		want: AudioHeader{Format: SoundExHeader, PacketType: 4, FourCC: FourCCOpus, DataOffset: 5}},
	{name: "obs multitrack OneTrack AAC SequenceStart", in: "95 00 'mp4a' 01 12 10", seq: true, config: true,
		want: AudioHeader{Format: SoundExHeader, FourCC: FourCCAAC, Multitrack: true, TrackID: 1, DataOffset: 7}},
	{name: "multitrack ManyTracksManyCodecs", in: "95 21 'fLaC' 00 00 00 01 aa", want: AudioHeader{Format: SoundExHeader, PacketType: 1,
		FourCC: FourCCFLAC, Multitrack: true, MultitrackType: ManyTracksManyCodecs, DataOffset: 10}},
	{name: "ModEx then CodedFrames", in: "97 00 aa 01 'Opus' fc", want: AudioHeader{Format: SoundExHeader, PacketType: 1, FourCC: FourCCOpus, DataOffset: 8}},
	{name: "E-RTMP audio FourCC truncated", in: "90 'Op'", err: true},
	{name: "E-RTMP audio multitrack nested", in: "95 05 'Opus' 00", err: true},
}

func TestAudio(t *testing.T) {
	for _, tc := range audioCases {
		t.Run(tc.name, func(t *testing.T) {
			p := unhex(t, tc.in)
			if got := IsAudioSequenceHeader(p); got != tc.seq {
				t.Errorf("IsAudioSequenceHeader = %v, want %v", got, tc.seq)
			}
			c := ClassifyAudio(p)
			if c.Keyframe || c.Config != tc.config {
				t.Errorf("ClassifyAudio = %+v, want config %v", c, tc.config)
			}
			h, err := ParseAudioHeader(p)
			if tc.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseAudioHeader err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAudioHeader: %v", err)
			}
			if h != tc.want {
				t.Errorf("ParseAudioHeader =\n %+v, want\n %+v", h, tc.want)
			}
		})
	}
}

func TestConfigKey(t *testing.T) {
	// Configurations of different tracks or of different kinds must not
	// replace each other in a cache; the same kind on the same track must.
	keys := map[string]uint16{
		"video seq track 0":  ClassifyVideo(unhex(t, "90 'hvc1' 01")).ConfigKey,
		"video avc seq":      ClassifyVideo(unhex(t, "17 00 00 00 00 01")).ConfigKey,
		"video seq track 2":  ClassifyVideo(unhex(t, "96 00 'hvc1' 02 01")).ConfigKey,
		"video hdr metadata": ClassifyVideo(unhex(t, "94 'hvc1' 02")).ConfigKey,
		"audio multichannel": ClassifyAudio(unhex(t, "94 'Opus' 01")).ConfigKey,
		"audio seq track 1":  ClassifyAudio(unhex(t, "95 00 'mp4a' 01 12 10")).ConfigKey,
	}
	if keys["video seq track 0"] != keys["video avc seq"] {
		t.Errorf("AVC and E-RTMP sequence headers of track 0 should share a key: %v", keys)
	}
	if keys["video seq track 0"] == keys["video seq track 2"] || keys["video seq track 0"] == keys["video hdr metadata"] {
		t.Errorf("distinct configurations share a key: %v", keys)
	}
	if keys["audio multichannel"] == 0 || keys["audio seq track 1"] != 1<<8 {
		t.Errorf("audio keys: %v", keys)
	}
}

func TestFourCC(t *testing.T) {
	tests := []struct {
		in   []byte
		want FourCC
		str  string
		ok   bool
	}{
		{[]byte("av01"), FourCCAV1, "av01", true},
		{[]byte("hvc1xyz"), FourCCHEVC, "hvc1", true},
		{[]byte(".mp3"), FourCCMP3, ".mp3", true},
		{[]byte{0, 'a', 0x7f, 'b'}, FourCC(0x00617f62), "?a?b", true},
		{[]byte("av0"), 0, "", false},
	}
	for _, tc := range tests {
		got, ok := ParseFourCC(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseFourCC(%q) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && got.String() != tc.str {
			t.Errorf("String() = %q, want %q", got.String(), tc.str)
		}
	}
	// onMetaData packs FourCCs as numbers (docs/rtmp.md#enhanced-rtmp).
	if uint32(FourCCAV1) != 1635135537 {
		t.Errorf("av01 = %d", uint32(FourCCAV1))
	}
}

func TestNames(t *testing.T) {
	for c, want := range map[VideoCodec]string{VideoAVC: "h264", VideoSorenson: "h263", VideoVP6: "vp6", 9: "codec(9)"} {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", uint8(c), c.String(), want)
		}
	}
	for f, want := range map[SoundFormat]string{SoundAAC: "aac", SoundSpeex: "speex", SoundNelly: "nellymoser", SoundG711MuLaw: "g711u", 12: "sound(12)"} {
		if f.String() != want {
			t.Errorf("%d.String() = %q, want %q", uint8(f), f.String(), want)
		}
	}
}

func TestClassifyAllocs(t *testing.T) {
	bad := unhex(t, "96 11 'av01' 00 00 00 09 aa")
	key := unhex(t, "17 01 00 00 00 00 00 00 05 65")
	aac := unhex(t, "af 00 12 10")
	n := testing.AllocsPerRun(100, func() {
		_ = ClassifyVideo(bad)
		_ = ClassifyVideo(key)
		_ = ClassifyAudio(aac)
		_ = IsVideoKeyframe(bad)
	})
	if n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}

func BenchmarkClassifyVideo(b *testing.B) {
	p := unhex(b, "27 01 00 00 28 00 00 00 02 41 9a")
	b.ReportAllocs()
	for b.Loop() {
		_ = ClassifyVideo(p)
	}
}
