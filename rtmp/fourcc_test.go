package rtmp

import (
	"math"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

func TestDecodesOpus(t *testing.T) {
	for _, c := range []struct {
		name string
		obj  amf.Value
		want bool
	}{
		{"ffmpeg 5.1, rtmpdump: no list", amf.Object(amf.Prop{Key: "app", Value: amf.String("live")}), false},
		{"list without Opus", amf.Object(amf.Prop{Key: "fourCcList", Value: amf.StrictArray(amf.String("hvc1"), amf.String("av01"))}), false},
		{"list with Opus", amf.Object(amf.Prop{Key: "fourCcList", Value: amf.StrictArray(amf.String("avc1"), amf.String("Opus"))}), true},
		{"wildcard", amf.Object(amf.Prop{Key: "fourCcList", Value: amf.StrictArray(amf.String("*"))}), true},
		{"list not an array", amf.Object(amf.Prop{Key: "fourCcList", Value: amf.String("Opus")}), false},
		{"info map decode", amf.Object(amf.Prop{Key: "audioFourCcInfoMap", Value: amf.Object(amf.Prop{Key: "Opus", Value: amf.Number(3)})}), true},
		{"info map encode only", amf.Object(amf.Prop{Key: "audioFourCcInfoMap", Value: amf.Object(amf.Prop{Key: "Opus", Value: amf.Number(2)})}), false},
		{"info map NaN", amf.Object(amf.Prop{Key: "audioFourCcInfoMap", Value: amf.Object(amf.Prop{Key: "*", Value: amf.Number(math.NaN())})}), false},
	} {
		if got := decodesOpus(c.obj); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCodecMask(t *testing.T) {
	for _, c := range []struct {
		name string
		v    amf.Value
		want uint32
	}{
		{"absent (ffmpeg publishing, a server-side NetConnection)", amf.Undefined(), allCodecs},
		{"Flash Player", amf.Number(252), 252},
		{"openfcs.js", amf.Number(0x0080), 0x0080},
		{"zero", amf.Number(0), 0},
		{"negative", amf.Number(-1), allCodecs},
		{"too large", amf.Number(1 << 40), allCodecs},
		{"NaN", amf.Number(math.NaN()), allCodecs},
		{"a string", amf.String("252"), allCodecs},
	} {
		if got := codecMask(c.v); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}
