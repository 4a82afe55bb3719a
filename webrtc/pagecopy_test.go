package webrtc

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
)

// The masks openfcs.js sends (web/netconnection.js) and Flash Player's.
const (
	pageAudioMask  = 0x0001 | 0x0004 | 0x0080 | 0x0100 | 0x0400
	pageVideoMask  = 0x0080
	flashAudioMask = 3575
	flashVideoMask = 252
)

func TestNeedsCopy(t *testing.T) {
	sorenson, vp6, avc := []byte{0x12}, []byte{0x14}, []byte{0x17, 0x01}
	enhanced := []byte{0x91, 'a', 'v', 'c', '1'}
	nelly, speex, aac, mp3 := []byte{0x62}, []byte{0xb2}, []byte{0xaf, 0x01}, []byte{0x2f}
	for _, c := range []struct {
		name         string
		audio, video []byte
		am, vm       uint32
		want         bool
	}{
		{"sorenson+nelly to a page", nelly, sorenson, pageAudioMask, pageVideoMask, true},
		{"sorenson+nelly to Flash Player", nelly, sorenson, flashAudioMask, flashVideoMask, false},
		{"vp6+mp3 to a page", mp3, vp6, pageAudioMask, pageVideoMask, true},
		{"h264+speex to a page", speex, avc, pageAudioMask, pageVideoMask, true},
		{"h264+aac to a page", aac, avc, pageAudioMask, pageVideoMask, false},
		{"enhanced video to a page", aac, enhanced, pageAudioMask, pageVideoMask, false},
		{"audio only, nelly, to a WebRTC viewer", nelly, nil, webrtcAudioMask, webrtcVideoMask, true},
		{"aac to a WebRTC viewer (the outlet converts it itself)", aac, avc, webrtcAudioMask, webrtcVideoMask, false},
		{"nothing arrived yet", nil, nil, pageAudioMask, pageVideoMask, false},
	} {
		if got := needsCopy(c.audio, c.video, c.am, c.vm); got != c.want {
			t.Errorf("%s: needsCopy = %v, want %v", c.name, got, c.want)
		}
	}
}

// flashTags are 3 s of Sorenson H.263 (320x240, 25 fps) and Nellymoser
// (22050 Hz mono) from ffmpeg, as one FLV's tags in order.
func flashTags(tb testing.TB) []*media.Packet {
	tb.Helper()
	src, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050",
		"-t", "3", "-c:v", "flv", "-q:v", "6", "-g", "25", "-c:a", "nellymoser", "-ar", "22050", "-ac", "1",
		"-f", "flv", "pipe:1").Output()
	if err != nil {
		tb.Fatalf("ffmpeg making Sorenson and Nellymoser (scripts/deps.sh installs it): %v", err)
	}
	var out []*media.Packet
	_ = readFLVTags(bytes.NewReader(src), maxVideoTag, func(typ uint8, ms uint32, body []byte) {
		switch typ {
		case flv.TagVideo:
			out = append(out, &media.Packet{Kind: media.Video, Time: ms, Payload: append([]byte(nil), body...)})
		case flv.TagAudio:
			out = append(out, &media.Packet{Kind: media.Audio, Time: ms, Payload: append([]byte(nil), body...)})
		}
	})
	if len(out) < 150 {
		tb.Fatalf("%d tags from ffmpeg", len(out))
	}
	return out
}

// A published Sorenson and Nellymoser stream: a page's masks get its
// converted copy, Flash Player's do not; a second player (a WebRTC
// outlet) shares the same copy and its two converters; the copy carries
// an AVC sequence header and keyframe and Opus at the stream's times;
// the last release stops the converters and unpublishes the copy.
func TestConvertedCopy(t *testing.T) {
	st := startStack(t, Config{})
	in, _ := connectClient(t, st, "rtmpws")
	tags := flashTags(t)
	// The stream starts 5 s into the publisher's clock, as a live one
	// would: the copy must keep those times.
	const offset = 5000
	pub, err := in.Streams().Publish("old")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	write := func(pk *media.Packet) {
		pub.Write(&media.Packet{Kind: pk.Kind, Time: pk.Time + offset, Payload: pk.Payload})
	}
	if _, _, ok := st.srv.Convert(in, "old", pageAudioMask, pageVideoMask); ok {
		t.Fatal("a copy of a stream that has carried nothing yet")
	}
	write(tags[0])
	write(tags[1])
	if _, _, ok := st.srv.Convert(in, "old", flashAudioMask, flashVideoMask); ok {
		t.Error("Flash Player's masks got a converted copy")
	}
	name, release, ok := st.srv.Convert(in, "old", pageAudioMask, pageVideoMask)
	if !ok || name != "old"+copySuffix {
		t.Fatalf("Convert for a page: %q, %v", name, ok)
	}
	name2, release2 := st.srv.outletSource(in, "old")
	if name2 != name {
		t.Fatalf("a WebRTC outlet plays %q, the page %q: not shared", name2, name)
	}
	if !in.Streams().Published(name) {
		t.Fatal("the copy is not published when Convert returns")
	}
	sub := in.Streams().Subscribe(name, media.SubscribeOptions{})
	defer sub.Close()
	for _, pk := range tags[2:] {
		write(pk)
		time.Sleep(2 * time.Millisecond) // the converters' queues hold a few seconds; this stays well inside them
	}
	last := offset + tags[len(tags)-1].Time
	var avcConfig, avcKey, opusHead bool
	var opus int
	var opusFirst, opusLast uint32
	deadline := time.After(60 * time.Second)
	for !avcConfig || !avcKey || !opusHead || opus < 50 {
		select {
		case <-deadline:
			t.Fatalf("after 60 s: AVC config %v, AVC keyframe %v, Opus head %v, %d Opus packets", avcConfig, avcKey, opusHead, opus)
		case <-sub.Ready():
		}
		for _, ev := range sub.Drain(nil) {
			pk := ev.Packet
			if pk == nil {
				continue
			}
			switch {
			case pk.Kind == media.Video && len(pk.Payload) > 1 && pk.Payload[0]&0x0f == byte(flv.VideoAVC):
				avcConfig = avcConfig || pk.Payload[1] == 0
				avcKey = avcKey || (pk.Keyframe && pk.Payload[1] == 1)
			case pk.Kind == media.Video:
				t.Fatalf("video tag %#x in the copy: not H.264", pk.Payload[0])
			case pk.Kind == media.Audio:
				h, err := flv.ParseAudioHeader(pk.Payload)
				if err != nil || h.FourCC.String() != "Opus" {
					t.Fatalf("audio tag %x in the copy: not Opus (%v)", pk.Payload[:min(6, len(pk.Payload))], err)
				}
				if h.PacketType == flv.AudioSequenceStart {
					opusHead = true
					continue
				}
				if opus == 0 {
					opusFirst = pk.Time
				}
				opus++
				opusLast = pk.Time
			}
		}
	}
	t.Logf("%d Opus packets from %d to %d ms; the source's tags end at %d ms", opus, opusFirst, opusLast, last)
	if opusFirst < offset-100 || opusFirst > offset+500 || opusLast > last+100 {
		t.Errorf("Opus from %d to %d ms: not at the stream's times (%d to %d ms)", opusFirst, opusLast, offset, last)
	}
	if n := st.srv.Stats().Converters; n != 2 {
		t.Errorf("%d converters running for one copy with two players, want 2", n)
	}
	release()
	release() // a second call is harmless
	if !in.Streams().Published(name) {
		t.Error("the copy ended while a player still held it")
	}
	release2()
	testutil.WaitFor(t, 10*time.Second, "the converters to stop", func() bool { return st.srv.Stats().Converters == 0 })
	if in.Streams().Published(name) {
		t.Error("the copy is still published after its last player left")
	}
	for _, msg := range []string{"converted copy started", "converted copy stopped"} {
		if n := strings.Count(st.logs.String(), `msg="`+msg+`"`); n != 1 {
			t.Errorf("%d %q lines, want 1", n, msg)
		}
	}
}

// The re-encoding converter's arguments are the video converter's but
// the nobuffer and low_delay flags, and with one decoding thread
// (reencodeArgs).
func TestReencodeArgs(t *testing.T) {
	v, r := videoArgs(), reencodeArgs()
	if !slices.Contains(v, "low_delay") || !slices.Contains(v, "nobuffer") {
		t.Fatalf("videoArgs lost low_delay or nobuffer: %q", v)
	}
	if slices.Contains(r, "low_delay") || slices.Contains(r, "nobuffer") || slices.Contains(r, "-flags") || slices.Contains(r, "-fflags") ||
		len(r) != len(v)-2 || !slices.Contains(r, "-bf") {
		t.Errorf("reencodeArgs %q; want videoArgs %q without -fflags nobuffer and -flags low_delay, with -threads 1 for the input", r, v)
	}
	in := slices.Index(r, "-i")
	if th := slices.Index(r, "-threads"); th < 0 || th > in || r[th+1] != "1" {
		t.Errorf("reencodeArgs %q: no -threads 1 before the input", r)
	}
}
