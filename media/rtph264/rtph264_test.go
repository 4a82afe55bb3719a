package rtph264

import (
	"bytes"
	"errors"
	"testing"
)

type pkt struct {
	payload []byte
	seq     uint16
	ts      uint32
	marker  bool
}

var (
	sps = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	pps = []byte{0x68, 0xce, 0x3c, 0x80}
	idr = append([]byte{0x65, 0x88, 0x84}, bytes.Repeat([]byte{0xab}, 3000)...)
	p1  = []byte{0x41, 0x9a, 0x02, 0x03}
)

// packets packetizes nals at one timestamp with mtu, the way a sender does.
func packets(seq0 uint16, ts uint32, mtu int, nals ...[]byte) []pkt {
	var out []pkt
	for _, n := range nals {
		for _, p := range AppendPayloads(nil, n, mtu) {
			out = append(out, pkt{payload: p, seq: seq0 + uint16(len(out)), ts: ts})
		}
	}
	out[len(out)-1].marker = true
	return out
}

func stapA(nals ...[]byte) []byte {
	b := []byte{0x18}
	for _, n := range nals {
		b = append(b, byte(len(n)>>8), byte(len(n)))
		b = append(b, n...)
	}
	return b
}

func TestDepacketize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pkts    []pkt
		want    [][][]byte // NAL units of each emitted unit
		wantIDR []bool
		lost    uint64
		errs    int
	}{
		{
			name:    "pion sample writer: single NALs and FU-A",
			pkts:    packets(100, 9000, 1200, sps, pps, idr),
			want:    [][][]byte{{sps, pps, idr}},
			wantIDR: []bool{true},
		},
		{
			name: "chromium: STAP-A of SPS and PPS, then FU-A",
			pkts: append([]pkt{{payload: stapA(sps, pps), seq: 1, ts: 0}},
				packets(2, 0, 1000, idr)...),
			want:    [][][]byte{{sps, pps, idr}},
			wantIDR: []bool{true},
		},
		{
			name:    "two frames, the first without a marker",
			pkts:    []pkt{{payload: p1, seq: 1, ts: 0}, {payload: p1, seq: 2, ts: 3000, marker: true}},
			want:    [][][]byte{{p1}, {p1}},
			wantIDR: []bool{false, false},
		},
		{
			name: "a lost fragment drops the unit, the next one survives",
			pkts: func() []pkt {
				ps := packets(10, 0, 1000, idr)
				ps = append(ps[:1], ps[2:]...) // lose the second fragment
				next := packets(14, 3000, 1000, p1)
				next[0].seq = ps[len(ps)-1].seq + 1
				return append(ps, next...)
			}(),
			want:    [][][]byte{{p1}},
			wantIDR: []bool{false},
			lost:    1,
		},
		{
			// Chromium probes bandwidth with padding-only packets on the
			// video's SSRC (no RTX negotiated): each once cost a frame.
			name: "padding-only packets between and inside units",
			pkts: func() []pkt {
				ps := []pkt{{payload: p1, seq: 1, ts: 0, marker: true}, {seq: 2, ts: 0}}
				key := packets(3, 3000, 1000, sps, pps, idr)
				ps = append(ps, key[:3]...)
				ps = append(ps, pkt{seq: key[2].seq + 1, ts: 0})
				for _, k := range key[3:] {
					k.seq++
					ps = append(ps, k)
				}
				return append(ps, pkt{seq: ps[len(ps)-1].seq + 1, ts: 3000}, pkt{payload: p1, seq: ps[len(ps)-1].seq + 2, ts: 6000, marker: true})
			}(),
			want:    [][][]byte{{p1}, {sps, pps, idr}, {p1}},
			wantIDR: []bool{false, true, false},
		},
		{
			name: "a gap before a padding packet still breaks the next unit",
			pkts: []pkt{{payload: p1, seq: 1, ts: 0, marker: true}, {seq: 3, ts: 0},
				{payload: p1, seq: 4, ts: 3000, marker: true}, {payload: p1, seq: 5, ts: 6000, marker: true}},
			want:    [][][]byte{{p1}, {p1}},
			wantIDR: []bool{false, false},
			lost:    1,
		},
		{
			name:    "FU-A continuation without a start",
			pkts:    []pkt{{payload: []byte{0x7c, 0x05, 1, 2}, seq: 1, ts: 0, marker: true}},
			errs:    1,
			lost:    1,
			want:    nil,
			wantIDR: nil,
		},
		{
			name: "STAP-A size past the end",
			pkts: []pkt{{payload: []byte{0x18, 0x00, 0x09, 0x67}, seq: 1, ts: 0, marker: true}},
			errs: 1,
			lost: 1,
		},
		{
			name: "STAP-B is refused",
			pkts: []pkt{{payload: []byte{0x19, 0, 0, 0, 1, 0x41}, seq: 1, ts: 0, marker: true}},
			errs: 1,
			lost: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d Depacketizer
			var got [][][]byte
			var idrs []bool
			errs := 0
			for _, p := range tt.pkts {
				err := d.Push(p.payload, p.seq, p.ts, p.marker, func(au AccessUnit) {
					nals, err := SplitAVCC(nil, au.AVCC, 4, 100)
					if err != nil {
						t.Fatal(err)
					}
					var cp [][]byte
					for _, n := range nals {
						cp = append(cp, append([]byte(nil), n...))
					}
					got = append(got, cp)
					idrs = append(idrs, au.IDR)
				})
				if err != nil {
					errs++
				}
			}
			if errs != tt.errs {
				t.Errorf("errors: got %d, want %d", errs, tt.errs)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("units: got %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if len(got[i]) != len(tt.want[i]) {
					t.Fatalf("unit %d: %d NALs, want %d", i, len(got[i]), len(tt.want[i]))
				}
				for j := range got[i] {
					if !bytes.Equal(got[i][j], tt.want[i][j]) {
						t.Errorf("unit %d NAL %d differs", i, j)
					}
				}
				if idrs[i] != tt.wantIDR[i] {
					t.Errorf("unit %d IDR %v", i, idrs[i])
				}
			}
			if d.Lost() != tt.lost {
				t.Errorf("lost %d, want %d", d.Lost(), tt.lost)
			}
		})
	}
}

func TestDepacketizeLimits(t *testing.T) {
	t.Parallel()
	d := Depacketizer{Limits: Limits{MaxAccessUnit: 1000}}
	var err error
	for _, p := range packets(1, 0, 500, idr) {
		if e := d.Push(p.payload, p.seq, p.ts, p.marker, func(AccessUnit) {}); e != nil {
			err = e
		}
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	rec, err := AppendConfig(nil, [][]byte{sps}, [][]byte{pps})
	if err != nil {
		t.Fatal(err)
	}
	// ffmpeg 5.1 libx264 baseline 640x360 writes this record.
	want := append([]byte{1, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0, 9}, sps...)
	want = append(append(want, 1, 0, 4), pps...)
	if !bytes.Equal(rec, want) {
		t.Fatalf("record\n got %x\nwant %x", rec, want)
	}
	c, err := ParseConfig(rec)
	if err != nil {
		t.Fatal(err)
	}
	if c.LengthSize != 4 || len(c.SPS) != 1 || !bytes.Equal(c.SPS[0], sps) || len(c.PPS) != 1 || !bytes.Equal(c.PPS[0], pps) {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, {0, 0x42, 0, 0x1f, 0xff, 0xe1}, {1, 0x42, 0, 0x1f, 0xfe, 0xe1}, rec[:10], rec[:len(rec)-1]} {
		if _, err := ParseConfig(bad); err == nil {
			t.Errorf("ParseConfig(%x) accepted", bad)
		}
	}
}

func TestSplitAVCC(t *testing.T) {
	t.Parallel()
	b := AppendAVCC(nil, sps, pps, p1)
	nals, err := SplitAVCC(nil, b, 4, 10)
	if err != nil || len(nals) != 3 || !bytes.Equal(nals[2], p1) {
		t.Fatalf("got %x, %v", nals, err)
	}
	if _, err := SplitAVCC(nil, b, 4, 2); !errors.Is(err, ErrTooLarge) {
		t.Errorf("max NALs: %v", err)
	}
	if _, err := SplitAVCC(nil, b[:len(b)-1], 4, 10); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := SplitAVCC(nil, b, 3, 10); !errors.Is(err, ErrMalformed) {
		t.Errorf("length size 3: %v", err)
	}
}

func TestPacketizeSizes(t *testing.T) {
	t.Parallel()
	for _, mtu := range []int{1, 3, 100, 1200, 5000} {
		ps := AppendPayloads(nil, idr, mtu)
		for _, p := range ps {
			if len(p) > max(mtu, 3) && len(ps) > 1 {
				t.Errorf("mtu %d: payload of %d", mtu, len(p))
			}
		}
	}
}

func BenchmarkDepacketize(b *testing.B) {
	ps := packets(0, 0, 1200, sps, pps, idr)
	var d Depacketizer
	emit := func(AccessUnit) {}
	b.ReportAllocs()
	seq := uint16(0)
	ts := uint32(0)
	for b.Loop() {
		for i, p := range ps {
			if err := d.Push(p.payload, seq, ts, i == len(ps)-1, emit); err != nil {
				b.Fatal(err)
			}
			seq++
		}
		ts += 3000
	}
}

func TestSplitAnnexB(t *testing.T) {
	t.Parallel()
	// ffmpeg 5.1's tee muxer writes this into FLV tags.
	b := []byte{0, 0, 0, 1}
	b = append(append(b, sps...), 0, 0, 1)
	b = append(append(b, pps...), 0, 0, 0, 1)
	b = append(b, p1...)
	if !IsAnnexB(b) || IsAnnexB(AppendAVCC(nil, sps)) {
		t.Fatal("IsAnnexB")
	}
	nals, err := SplitAnnexB(nil, b, 10)
	if err != nil || len(nals) != 3 || !bytes.Equal(nals[0], sps) || !bytes.Equal(nals[1], pps) || !bytes.Equal(nals[2], p1) {
		t.Fatalf("got %x, %v", nals, err)
	}
	if _, err := SplitAnnexB(nil, b, 2); !errors.Is(err, ErrTooLarge) {
		t.Errorf("max NALs: %v", err)
	}
	if _, err := SplitAnnexB(nil, sps, 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("no start code: %v", err)
	}
}
