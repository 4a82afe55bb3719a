package webrtc

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/openfcs/openfcs/media/flv"
)

func TestReadFLVTags(t *testing.T) {
	b := flv.AppendHeader(nil, flv.FlagAudio|flv.FlagVideo)
	b = flv.AppendTag(b, 18, 0, []byte{2, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'})
	b = flv.AppendTag(b, flv.TagAudio, 0, []byte{0xaf, 0, 0x11, 0x90})
	b = flv.AppendTag(b, flv.TagVideo, 40, []byte{0x17, 1, 0, 0, 0, 1, 2, 3})
	b = flv.AppendTag(b, flv.TagAudio, 0x01000021, []byte{0xaf, 1, 9})
	var got []string
	err := readFLVTags(bytes.NewReader(b), 64, func(typ uint8, ms uint32, body []byte) {
		got = append(got, strings.TrimSpace(string(rune('0'+typ))+" "+itoa(ms)+" "+itoa(uint32(len(body)))))
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err %v, want EOF", err)
	}
	want := []string{"8 0 4", "9 40 8", "8 16777249 3"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("tags %q, want %q", got, want)
	}
	if err := readFLVTags(bytes.NewReader(b), 5, func(uint8, uint32, []byte) {}); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("a tag over the limit: err %v", err)
	}
	if err := readFLVTags(strings.NewReader("not an flv stream"), 64, func(uint8, uint32, []byte) {}); err == nil {
		t.Fatal("garbage accepted")
	}
}

func itoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func FuzzReadFLVTags(f *testing.F) {
	b := flv.AppendHeader(nil, flv.FlagAudio)
	b = flv.AppendTag(b, flv.TagAudio, 0, []byte{0xaf, 0, 0x11, 0x90})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_ = readFLVTags(bytes.NewReader(data), 1<<10, func(_ uint8, _ uint32, body []byte) {
			if len(body) > 1<<10 {
				t.Fatalf("tag of %d bytes past the limit", len(body))
			}
			n++
		})
		if n > len(data)/flv.TagHeaderSize {
			t.Fatalf("%d tags from %d bytes", n, len(data))
		}
	})
}
