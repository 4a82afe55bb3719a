package media

import (
	"errors"
	"slices"
	"testing"
)

func TestLateJoiner(t *testing.T) {
	tests := []struct {
		name   string
		writes []*Packet
		meta   bool
		want   string
	}{
		{
			name:   "ffmpeg h264+aac: metadata, configs, GOP from last keyframe",
			meta:   true,
			writes: []*Packet{aacSeq(0), avcSeq(0), key(0, 100), aac(10, 20), inter(40, 50), key(80, 100), aac(90, 20), inter(120, 50)},
			want:   "pub d@0 a:cfg@0 v:cfg@0 v:key@80 a@90 v@120",
		},
		{
			name:   "joined mid-GOP of a stream without keyframe yet: configs only",
			writes: []*Packet{avcSeq(0), inter(40, 50), aac(50, 20)},
			want:   "pub v:cfg@0",
		},
		{
			name:   "only the latest config per kind",
			writes: []*Packet{avcSeq(0), aacSeq(0), avcSeq(5), aacSeq(6), key(10, 10)},
			want:   "pub v:cfg@5 a:cfg@6 v:key@10",
		},
		{
			name:   "flash sorenson+nellymoser: no configs, GOP from keyframe",
			writes: []*Packet{{Kind: Audio, Time: 0, Payload: []byte{0x66, 1}}, {Kind: Video, Time: 0, Payload: []byte{0x12, 0, 0, 0x84}}, {Kind: Video, Time: 40, Payload: []byte{0x22, 0, 0, 0x84}}},
			want:   "pub v:key@0 v@40",
		},
		{
			name:   "obs E-RTMP hevc + opus SequenceStart cached",
			writes: []*Packet{{Kind: Video, Payload: []byte{0x90, 'h', 'v', 'c', '1', 1}}, {Kind: Audio, Payload: []byte{0x90, 'O', 'p', 'u', 's', 1}}, {Kind: Video, Time: 1, Payload: []byte{0x91, 'h', 'v', 'c', '1', 0, 0, 0, 1}}},
			want:   "pub v:cfg@0 a:cfg@0 v:key@1",
		},
		{
			name: "obs multitrack: SequenceStart cached per track",
			writes: []*Packet{
				{Kind: Video, Time: 1, Payload: []byte{0x96, 0x00, 'h', 'v', 'c', '1', 0, 1}},
				{Kind: Video, Time: 2, Payload: []byte{0x96, 0x00, 'h', 'v', 'c', '1', 1, 1}},
				{Kind: Video, Time: 3, Payload: []byte{0x96, 0x00, 'h', 'v', 'c', '1', 0, 2}}, // replaces track 0's
			},
			want: "pub v:cfg@3 v:cfg@2",
		},
		{
			name:   "data messages are relayed live, not cached",
			writes: []*Packet{key(0, 10), {Kind: Data, Time: 5, Payload: []byte{2, 0, 1, 'x'}}, inter(40, 10)},
			want:   "pub v:key@0 v@40",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, Config{})
			p := publish(t, r, "s1")
			if tc.meta {
				p.SetMetadata(meta())
			}
			for _, pkt := range tc.writes {
				p.Write(pkt)
			}
			s := r.Subscribe("s1", SubscribeOptions{})
			defer s.Close()
			select {
			case <-s.Ready():
			default:
				t.Fatal("Ready not signaled for the initial burst")
			}
			if got := drainAll(s); got != tc.want {
				t.Errorf("initial burst\n got %s\nwant %s", got, tc.want)
			}
			// Live packets follow; before the subscriber saw a keyframe,
			// inter frames are held back.
			p.Write(inter(1000, 10))
			p.Write(key(1040, 10))
			p.Write(inter(1080, 10))
			want := "v@1000 v:key@1040 v@1080"
			if !slices.ContainsFunc(tc.writes, func(p *Packet) bool { return p.Keyframe }) {
				want = "v:key@1040 v@1080"
			}
			if got := drainAll(s); got != want {
				t.Errorf("live\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestGOPBounds(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		gop     []*Packet
		wantGOP int // GOPPackets after writing gop
	}{
		{"within bounds", Config{GOPCacheMaxPackets: 4, GOPCacheMaxBytes: 1000}, []*Packet{key(0, 100), inter(40, 100), inter(80, 100), aac(90, 10)}, 4},
		{"packet bound exceeded", Config{GOPCacheMaxPackets: 3, GOPCacheMaxBytes: 1000}, []*Packet{key(0, 100), inter(40, 100), inter(80, 100), inter(120, 100)}, 0},
		{"byte bound exceeded", Config{GOPCacheMaxPackets: 100, GOPCacheMaxBytes: 250}, []*Packet{key(0, 100), inter(40, 100), inter(80, 100)}, 0},
		{"keyframe alone over byte bound", Config{GOPCacheMaxPackets: 100, GOPCacheMaxBytes: 50}, []*Packet{key(0, 100), inter(40, 10)}, 0},
		{"disabled", Config{GOPCacheMaxPackets: -1}, []*Packet{key(0, 100), inter(40, 100)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, tc.cfg)
			p := publish(t, r, "s")
			p.Write(avcSeq(0))
			for _, pkt := range tc.gop {
				p.Write(pkt)
			}
			if got := p.Stats().GOPPackets; got != tc.wantGOP {
				t.Fatalf("GOPPackets = %d, want %d", got, tc.wantGOP)
			}
			s := r.Subscribe("s", SubscribeOptions{})
			defer s.Close()
			got := s.Drain(nil)
			// Never a partial GOP: after the config, either the whole GOP
			// starting at a keyframe or nothing.
			if len(got) != 2+tc.wantGOP {
				t.Fatalf("burst %s: want pub, config and %d GOP packets", describe(got), tc.wantGOP)
			}
			if tc.wantGOP > 0 && !got[2].Packet.Keyframe {
				t.Fatalf("burst %s does not start at a keyframe", describe(got))
			}
			// The cache recovers at the next keyframe.
			p.Write(inter(500, 10))
			p.Write(key(540, 10))
			want := "v:key@540" // inter frames held back until a keyframe
			if tc.wantGOP > 0 {
				want = "v@500 v:key@540" // continues the served GOP
			}
			if got := drainAll(s); got != want {
				t.Errorf("live after join = %s, want %s", got, want)
			}
			if tc.cfg.gopEnabled() || tc.cfg.GOPCacheMaxPackets == 0 {
				if got := p.Stats().GOPPackets; got != 1 {
					t.Errorf("GOPPackets after keyframe = %d, want 1", got)
				}
			}
		})
	}
}

func TestVideoConfigChangeResetsGOP(t *testing.T) {
	r := newRegistry(t, Config{})
	p := publish(t, r, "s")
	p.Write(avcSeq(0))
	p.Write(key(0, 10))
	p.Write(avcSeq(1)) // same bytes: resent header, GOP kept
	p.Write(inter(40, 10))
	if got := p.Stats().GOPPackets; got != 2 {
		t.Fatalf("GOPPackets = %d after identical header, want 2", got)
	}
	changed := &Packet{Kind: Video, Time: 50, Payload: append(slices.Clone(avcSeqPayload[:len(avcSeqPayload)-1]), 0x81)}
	p.Write(changed)
	p.Write(inter(80, 10))
	if got := p.Stats().GOPPackets; got != 0 {
		t.Fatalf("GOPPackets = %d after a new decoder configuration, want 0", got)
	}
	s := r.Subscribe("s", SubscribeOptions{})
	defer s.Close()
	if got := drainAll(s); got != "pub v:cfg@50" {
		t.Errorf("burst = %s", got)
	}
}

func TestBusyName(t *testing.T) {
	r := newRegistry(t, Config{})
	p := publish(t, r, "s1")
	if _, err := r.Publish("s1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Publish err = %v, want ErrBusy", err)
	}
	p2 := publish(t, r, "s2")
	if got := r.Names(); !slices.Equal(got, []string{"s1", "s2"}) || r.Len() != 2 {
		t.Fatalf("Names = %v, Len = %d", got, r.Len())
	}
	if !r.Published("s1") || r.Published("nope") {
		t.Fatal("Published wrong")
	}
	p.Close()
	p.Close() // idempotent
	p.Write(key(0, 10))
	if r.Len() != 1 || r.Published("s1") {
		t.Fatalf("after Close: Len = %d", r.Len())
	}
	p3 := publish(t, r, "s1") // the name is free again
	p3.Close()
	p2.Close()
	if r.Len() != 0 || len(r.Names()) != 0 {
		t.Fatal("streams left")
	}
	r.mu.Lock()
	left := len(r.streams)
	r.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d stream entries left without publisher or subscriber", left)
	}
}

func TestUnpublishRepublish(t *testing.T) {
	r := newRegistry(t, Config{})
	s := r.Subscribe("s", SubscribeOptions{}) // before any publisher
	defer s.Close()
	if s.Live() || r.Len() != 0 {
		t.Fatal("waiting subscriber reports live")
	}
	if got := drainAll(s); got != "" {
		t.Fatalf("waiting subscriber got %s", got)
	}
	p := publish(t, r, "s")
	if !s.Live() {
		t.Fatal("not live after Publish")
	}
	<-s.Ready()
	p.SetMetadata(meta())
	p.Write(inter(0, 10)) // held back: no keyframe yet
	p.Write(avcSeq(0))
	p.Write(key(10, 10))
	p.Close()
	if s.Live() {
		t.Fatal("live after unpublish")
	}
	if got, want := drainAll(s), "pub d@0 v:cfg@0 v:key@10 unpub"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Republish: a new subscriber must not see the old publisher's caches.
	p = publish(t, r, "s")
	late := r.Subscribe("s", SubscribeOptions{})
	defer late.Close()
	p.Write(inter(20, 10))
	p.Write(key(30, 10))
	if got, want := drainAll(s), "pub v:key@30"; got != want {
		t.Errorf("old subscriber got %s, want %s", got, want)
	}
	if got, want := drainAll(late), "pub v:key@30"; got != want {
		t.Errorf("new subscriber got %s, want %s", got, want)
	}
	p.ClearMetadata()
	p.Close()
}

func TestReceiveAudioVideo(t *testing.T) {
	r := newRegistry(t, Config{})
	p := publish(t, r, "s")
	p.Write(avcSeq(0))
	p.Write(aacSeq(0))
	p.Write(key(0, 10))
	s := r.Subscribe("s", SubscribeOptions{NoVideo: true})
	defer s.Close()
	if got, want := drainAll(s), "pub v:cfg@0 a:cfg@0"; got != want {
		t.Fatalf("NoVideo burst = %s, want %s", got, want)
	}
	p.Write(inter(40, 10))
	p.Write(aac(41, 10))
	s.SetReceiveVideo(true) // resumes at the next keyframe
	p.Write(inter(80, 10))
	p.Write(aac(81, 10))
	p.Write(key(120, 10))
	p.Write(inter(160, 10))
	s.SetReceiveAudio(false)
	p.Write(aac(161, 10))
	p.Write(aacSeq(162)) // configuration is never filtered
	s.SetReceiveVideo(false)
	p.Write(inter(200, 10))
	p.Write(avcSeq(201))
	s.SetReceiveAudio(true)
	p.Write(aac(202, 10))
	if got, want := drainAll(s), "a@41 a@81 v:key@120 v@160 a:cfg@162 v:cfg@201 a@202"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	na := r.Subscribe("s", SubscribeOptions{NoAudio: true})
	defer na.Close()
	p.Write(aac(300, 10))
	p.Write(inter(301, 10))
	if got, want := drainAll(na), "pub v:cfg@201 a:cfg@162 v:key@120 v@160 v@200 v@301"; got != want {
		t.Errorf("NoAudio got  %s\nwant %s", got, want)
	}
}

func TestSubscriberClose(t *testing.T) {
	r := newRegistry(t, Config{})
	p := publish(t, r, "s")
	p.Write(key(0, 10))
	s := r.Subscribe("s", SubscribeOptions{})
	if p.Stats().Subscribers != 1 {
		t.Fatal("not subscribed")
	}
	s.Close()
	s.Close()
	if p.Stats().Subscribers != 0 || s.Err() != nil {
		t.Fatalf("after Close: %+v, err %v", p.Stats(), s.Err())
	}
	p.Write(inter(40, 10))
	if got := drainAll(s); got != "" {
		t.Errorf("closed subscriber got %s", got)
	}
	// A waiting subscriber's stream entry goes away with it.
	w := r.Subscribe("w", SubscribeOptions{})
	w.Close()
	r.mu.Lock()
	_, ok := r.streams["w"]
	r.mu.Unlock()
	if ok {
		t.Error("stream entry of a closed waiting subscriber remains")
	}
}

func TestRegistryClose(t *testing.T) {
	r := NewRegistry(Config{}, nil)
	p, err := r.Publish("s")
	if err != nil {
		t.Fatal(err)
	}
	p.Write(key(0, 10))
	s := r.Subscribe("s", SubscribeOptions{})
	w := r.Subscribe("waiting", SubscribeOptions{})
	drainAll(s)
	r.Close()
	r.Close()
	if !errors.Is(s.Err(), ErrClosed) || !errors.Is(w.Err(), ErrClosed) {
		t.Fatalf("Err = %v, %v; want ErrClosed", s.Err(), w.Err())
	}
	// Pending events stay drainable so the player learns why.
	if got := drainAll(s); got != "unpub" {
		t.Errorf("after Close got %s, want unpub", got)
	}
	if _, err := r.Publish("s"); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	late := r.Subscribe("s", SubscribeOptions{})
	<-late.Ready()
	if !errors.Is(late.Err(), ErrClosed) {
		t.Errorf("Subscribe after Close: Err = %v", late.Err())
	}
	p.Write(inter(40, 10)) // no effect, no panic
	s.Close()
	w.Close()
	late.Close()
	if r.Len() != 0 {
		t.Error("Len after Close")
	}
}

// TestSharedNotify: one connection playing two streams wakes on one channel.
func TestSharedNotify(t *testing.T) {
	r := newRegistry(t, Config{})
	wake := make(chan struct{}, 1)
	a := r.Subscribe("a", SubscribeOptions{Notify: wake})
	b := r.Subscribe("b", SubscribeOptions{Notify: wake})
	defer a.Close()
	defer b.Close()
	if a.Ready() != (<-chan struct{})(wake) {
		t.Fatal("Ready is not the Notify channel")
	}
	pb := publish(t, r, "b")
	<-wake
	if got := drainAll(a) + "|" + drainAll(b); got != "|pub" {
		t.Fatalf("after publishing b: %s", got)
	}
	pa := publish(t, r, "a")
	pb.Write(key(0, 10))
	<-wake
	if got := drainAll(a) + "|" + drainAll(b); got != "pub|v:key@0" {
		t.Fatalf("after publishing a: %s", got)
	}
	pa.Close()
	pb.Close()
}

// TestConfigCacheBound: a publisher inventing tracks cannot grow the
// configuration cache past its bound; the newest configurations win.
func TestConfigCacheBound(t *testing.T) {
	r := newRegistry(t, Config{})
	p := publish(t, r, "s")
	for track := range 40 {
		p.Write(&Packet{Kind: Audio, Time: uint32(track), Payload: []byte{0x95, 0x00, 'O', 'p', 'u', 's', byte(track), 1}})
	}
	s := r.Subscribe("s", SubscribeOptions{})
	defer s.Close()
	evs := s.Drain(nil)
	if len(evs) != 1+maxConfigs {
		t.Fatalf("burst has %d events, want %d", len(evs), 1+maxConfigs)
	}
	if first := evs[1].Packet.Time; first != 40-maxConfigs {
		t.Errorf("oldest kept config from track %d, want %d", first, 40-maxConfigs)
	}
}
