package flv

import "testing"

// FuzzClassify checks that no payload panics the classifiers, that the
// predicates agree with Classify* and Parse*, and that parsed offsets stay
// inside the payload.
func FuzzClassify(f *testing.F) {
	for _, tc := range videoCases {
		f.Add(unhex(f, tc.in), true)
	}
	for _, tc := range audioCases {
		f.Add(unhex(f, tc.in), false)
	}
	f.Fuzz(func(t *testing.T, p []byte, video bool) {
		if video {
			c := ClassifyVideo(p)
			h, err := ParseVideoHeader(p)
			if c.Keyframe != IsVideoKeyframe(p) {
				t.Fatalf("ClassifyVideo keyframe %v != IsVideoKeyframe", c.Keyframe)
			}
			if IsVideoSequenceHeader(p) && !c.Config {
				t.Fatal("sequence header not classified as config")
			}
			if err != nil {
				if c != (Class{}) {
					t.Fatalf("malformed payload classified %+v", c)
				}
				return
			}
			if h.DataOffset < 1 || h.DataOffset > len(p) {
				t.Fatalf("DataOffset %d outside payload of %d", h.DataOffset, len(p))
			}
			if c.Keyframe && c.Config {
				t.Fatal("keyframe and config at once")
			}
			if c.Keyframe && h.FrameType != FrameKey {
				t.Fatalf("keyframe with frame type %d", h.FrameType)
			}
			return
		}
		c := ClassifyAudio(p)
		h, err := ParseAudioHeader(p)
		if c.Keyframe {
			t.Fatal("audio keyframe")
		}
		if IsAudioSequenceHeader(p) && !c.Config {
			t.Fatal("sequence header not classified as config")
		}
		if err != nil {
			if c != (Class{}) {
				t.Fatalf("malformed payload classified %+v", c)
			}
			return
		}
		if h.DataOffset < 1 || h.DataOffset > len(p) {
			t.Fatalf("DataOffset %d outside payload of %d", h.DataOffset, len(p))
		}
		if c.Config && h.Format != SoundAAC && !h.Ex() {
			t.Fatalf("config for legacy format %v", h.Format)
		}
	})
}
