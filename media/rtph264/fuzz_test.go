package rtph264

import (
	"bytes"
	"testing"
)

// FuzzDepacketize feeds a byte string cut into RTP payloads (a length byte
// before each) and checks that nothing panics, that every unit splits into
// NAL units and stays under the limits, and that what a unit holds
// packetizes and depacketizes to itself.
func FuzzDepacketize(f *testing.F) {
	for _, ps := range [][]pkt{packets(0, 0, 100, sps, pps, idr[:300]), {{payload: stapA(sps, pps)}, {payload: p1}}} {
		var b []byte
		for _, p := range ps {
			b = append(b, byte(len(p.payload)))
			b = append(b, p.payload...)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := Depacketizer{Limits: Limits{MaxAccessUnit: 1 << 16, MaxNALs: 64}}
		seq := uint16(0)
		for len(b) > 0 {
			n := min(int(b[0]), len(b)-1)
			p := b[1 : 1+n]
			b = b[1+n:]
			marker := n > 0 && p[len(p)-1]&1 == 1
			var units [][]byte
			_ = d.Push(p, seq, uint32(seq/4), marker, func(au AccessUnit) {
				units = append(units, append([]byte(nil), au.AVCC...))
			})
			seq++
			for _, avcc := range units {
				checkUnit(t, avcc)
			}
		}
	})
}

// checkUnit checks one emitted unit: within the limit, splits into NAL
// units, and survives packetizing and depacketizing unchanged.
func checkUnit(t *testing.T, avcc []byte) {
	t.Helper()
	if len(avcc) > 1<<16 {
		t.Fatalf("unit of %d bytes over the limit", len(avcc))
	}
	nals, err := SplitAVCC(nil, avcc, 4, 64)
	if err != nil {
		t.Fatalf("unit does not split: %v", err)
	}
	var d2 Depacketizer
	var ps [][]byte
	for _, n := range nals {
		ps = AppendPayloads(ps, n, 50)
	}
	var again []byte
	for i, p := range ps {
		err := d2.Push(p, uint16(i), 7, i == len(ps)-1, func(a AccessUnit) { again = append([]byte(nil), a.AVCC...) })
		if err != nil {
			t.Fatalf("re-packetized unit: %v", err)
		}
	}
	if !bytes.Equal(again, avcc) {
		t.Fatalf("round trip differs")
	}
}

// FuzzParseConfig checks that a record that parses re-encodes to a record
// that parses to the same parameter sets.
func FuzzParseConfig(f *testing.F) {
	rec, _ := AppendConfig(nil, [][]byte{sps}, [][]byte{pps})
	f.Add(rec)
	f.Add([]byte{1, 0x64, 0, 0x28, 0xff, 0xe0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil || len(c.SPS) == 0 || len(c.SPS[0]) < 4 || len(c.PPS) == 0 {
			return
		}
		again, err := AppendConfig(nil, c.SPS, c.PPS)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseConfig(again)
		if err != nil || len(c2.SPS) != len(c.SPS) || len(c2.PPS) != len(c.PPS) {
			t.Fatalf("re-encoded record: %v", err)
		}
	})
}

// FuzzSplitAVCC checks that a split re-joins to the input (zero-length
// units aside).
func FuzzSplitAVCC(f *testing.F) {
	f.Add(AppendAVCC(nil, sps, pps, p1))
	f.Fuzz(func(t *testing.T, b []byte) {
		nals, err := SplitAVCC(nil, b, 4, 1000)
		if err != nil {
			return
		}
		if len(AppendAVCC(nil, nals...)) > len(b) {
			t.Fatal("re-joined units are longer than the input")
		}
	})
}

// FuzzSplitAnnexB checks that no unit is empty or holds a start code.
func FuzzSplitAnnexB(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		nals, err := SplitAnnexB(nil, b, 1000)
		if err != nil {
			return
		}
		for _, n := range nals {
			if len(n) == 0 || bytes.Contains(n, []byte{0, 0, 1}) {
				t.Fatalf("unit %x", n)
			}
		}
	})
}
