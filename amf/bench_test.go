package amf

import (
	"testing"
)

// ffmpegConnect is the connect command ffmpeg (rtmpproto.c, gen_connect)
// sends when playing.
func ffmpegConnect() []Value {
	return []Value{String("connect"), Number(1), Object(
		p("app", String("live")),
		p("flashVer", String("LNX 9,0,124,2")),
		p("tcUrl", String("rtmp://127.0.0.1:1935/live")),
		p("fpad", Bool(false)),
		p("capabilities", Number(15)),
		p("audioCodecs", Number(4071)),
		p("videoCodecs", Number(252)),
		p("videoFunction", Number(1)),
		p("objectEncoding", Number(0)),
	)}
}

// ffmpegMetadata is the data message ffmpeg's flv muxer writes for a
// H.264 + AAC stream.
func ffmpegMetadata() []Value {
	return []Value{String("onMetaData"), ECMAArray(
		p("duration", Number(0)),
		p("width", Number(1280)),
		p("height", Number(720)),
		p("videodatarate", Number(2500)),
		p("framerate", Number(30)),
		p("videocodecid", Number(7)),
		p("audiodatarate", Number(128)),
		p("audiosamplerate", Number(44100)),
		p("audiosamplesize", Number(16)),
		p("stereo", Bool(true)),
		p("audiocodecid", Number(10)),
		p("encoder", String("Lavf61.7.100")),
		p("filesize", Number(0)),
	)}
}

func TestAllocsDecodeScalars(t *testing.T) {
	var d Decoder
	for _, h := range []string{"00 3f f0 00 00 00 00 00 00", "01 01", "05", "06", "11 04 05", "11 05 3f f8 00 00 00 00 00 00"} {
		b := unhex(t, h)
		if _, _, err := d.DecodeAMF0(b); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if _, _, err := d.DecodeAMF0(b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("decoding %s: %v allocs", h, n)
		}
	}
	b3 := unhex(t, "04 ff ff ff ff")
	if n := testing.AllocsPerRun(100, func() { _, _, _ = d.DecodeAMF3(b3) }); n != 0 {
		t.Errorf("decoding AMF3 integer: %v allocs", n)
	}
	// With AliasInput a string needs no allocation either.
	da := Decoder{AliasInput: true}
	bs := unhex(t, "02 00 03 61 70 70")
	if n := testing.AllocsPerRun(100, func() { _, _, _ = da.DecodeAMF0(bs) }); n != 0 {
		t.Errorf("decoding aliased string: %v allocs", n)
	}
}

func TestAllocsEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		vs   []Value
	}{
		{"ffmpeg connect", ffmpegConnect()},
		{"flash connect C1", connectValues()},
		{"connect _result C2", resultValues()},
		{"onMetaData", ffmpegMetadata()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 0, 4096)
			if n := testing.AllocsPerRun(100, func() {
				var err error
				if buf, err = AppendAMF0Values(buf[:0], tc.vs...); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("AppendAMF0Values: %v allocs", n)
			}
			var e Encoder
			if n := testing.AllocsPerRun(100, func() {
				e.Reset()
				buf = buf[:0]
				for _, v := range tc.vs {
					buf, _ = e.AppendAMF0(buf, v)
				}
			}); n != 0 {
				t.Errorf("Encoder.AppendAMF0: %v allocs", n)
			}
			if n := testing.AllocsPerRun(100, func() {
				buf = buf[:0]
				for _, v := range tc.vs {
					buf, _ = e.AppendAMF3(buf, v)
				}
			}); n != 0 {
				t.Errorf("Encoder.AppendAMF3: %v allocs", n)
			}
			e.SwitchComplex = true
			if n := testing.AllocsPerRun(100, func() {
				e.Reset()
				buf = buf[:0]
				for _, v := range tc.vs {
					buf, _ = e.AppendAMF0Switched(buf, v)
				}
			}); n != 0 {
				t.Errorf("Encoder.AppendAMF0Switched: %v allocs", n)
			}
		})
	}
}

func BenchmarkEncodeConnect(b *testing.B) {
	vs := ffmpegConnect()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendAMF0Values(buf[:0], vs...)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeConnect(b *testing.B) {
	body, _ := AppendAMF0Values(nil, ffmpegConnect()...)
	var d Decoder
	dst := make([]Value, 0, 8)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = d.DecodeAMF0All(body, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeConnectAlias(b *testing.B) {
	body, _ := AppendAMF0Values(nil, ffmpegConnect()...)
	d := Decoder{AliasInput: true}
	dst := make([]Value, 0, 8)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = d.DecodeAMF0All(body, dst[:0])
	}
}

func BenchmarkEncodeMetadata(b *testing.B) {
	vs := ffmpegMetadata()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendAMF0Values(buf[:0], vs...)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeMetadata(b *testing.B) {
	body, _ := AppendAMF0Values(nil, ffmpegMetadata()...)
	var d Decoder
	dst := make([]Value, 0, 8)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = d.DecodeAMF0All(body, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAMF3Object(b *testing.B) {
	tr := &Traits{Class: "Point", Sealed: []string{"x", "y"}}
	var elems []Value
	for i := range 100 {
		elems = append(elems, ObjectWithTraits(tr, p("x", Number(float64(i))), p("y", Number(1.5))))
	}
	v := StrictArray(elems...)
	var e Encoder
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.AppendAMF3(buf[:0], v)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeAMF3Object(b *testing.B) {
	tr := &Traits{Class: "Point", Sealed: []string{"x", "y"}}
	var elems []Value
	for i := range 100 {
		elems = append(elems, ObjectWithTraits(tr, p("x", Number(float64(i))), p("y", Number(1.5))))
	}
	body, _ := AppendAMF3(nil, StrictArray(elems...))
	var d Decoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.DecodeAMF3(body); err != nil {
			b.Fatal(err)
		}
	}
}
