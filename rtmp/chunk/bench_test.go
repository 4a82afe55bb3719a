package chunk

import (
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

func BenchmarkWriterAppend(b *testing.B) {
	cases := []struct {
		name string
		size int
		cs   uint32
	}{
		{"video5000/cs128", 5000, 128},
		{"video5000/cs4096", 5000, 4096},
		{"video5000/cs60000", 5000, 60000},
		{"audio300/cs4096", 300, 4096},
		{"control4/cs4096", 4, 4096},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := NewWriter()
			w.SetChunkSize(c.cs)
			p := seq(c.size)
			var batch Batch
			ts := uint32(0)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			for b.Loop() {
				ts += 40
				check(w.Append(&batch, Header{CSID: 6, Timestamp: ts, Type: 9, StreamID: 1}, p))
				if _, err := batch.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendBytes(b *testing.B) {
	w := NewWriter()
	w.SetChunkSize(4096)
	p := seq(5000)
	buf := make([]byte, 0, 8192)
	ts := uint32(0)
	b.SetBytes(5000)
	b.ReportAllocs()
	for b.Loop() {
		ts += 40
		buf = must(w.AppendBytes(buf[:0], Header{CSID: 6, Timestamp: ts, Type: 9, StreamID: 1}, p))
	}
}

// loopReader serves head once, then body forever.
type loopReader struct {
	head, body []byte
	off        int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if len(l.head) > 0 {
		n := copy(p, l.head)
		l.head = l.head[n:]
		return n, nil
	}
	n := copy(p, l.body[l.off:])
	l.off = (l.off + n) % len(l.body)
	return n, nil
}

func BenchmarkReader(b *testing.B) {
	for _, cs := range []uint32{128, 4096, 60000} {
		b.Run(fmt.Sprint("video5000+audio300/cs", cs), func(b *testing.B) {
			w := NewWriter()
			head := must(w.AppendBytes(nil, Header{CSID: 2, Type: 1}, []byte{byte(cs >> 24), byte(cs >> 16), byte(cs >> 8), byte(cs)}))
			w.SetChunkSize(cs)
			var body []byte
			// One second of a 1 Mbit/s stream's shape: 25 video + 43 audio.
			n := 0
			for i := range 25 {
				body = must(w.AppendBytes(body, Header{CSID: 6, Timestamp: uint32(i * 40), Type: 9, StreamID: 1}, seq(5000)))
				n++
				for j := range 2 - i%4/3 {
					body = must(w.AppendBytes(body, Header{CSID: 4, Timestamp: uint32(i*40 + j*23), Type: 8, StreamID: 1}, seq(300)))
					n++
				}
			}
			r := NewReader(&loopReader{head: head, body: body}, Limits{})
			if _, _, err := r.ReadMessage(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body) / n))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCoalesce writes one 40 ms tick (a 5000-byte video frame, two
// 300-byte audio frames, a 20-byte data message, an ack) per flush to a real
// loopback TCP socket with several coalescing thresholds, to choose
// coalesceMax: copying tiny payloads next to their headers trades a memcpy
// for an iovec.
func BenchmarkCoalesce(b *testing.B) {
	old := coalesceMax
	b.Cleanup(func() { coalesceMax = old })
	for _, thr := range []int{0, 64, 512, 4096} {
		b.Run(fmt.Sprint("max", thr), func(b *testing.B) {
			coalesceMax = thr
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			w := NewWriter()
			w.SetChunkSize(4096)
			video, audio, data, ack := seq(5000), seq(300), seq(20), seq(4)
			var batch Batch
			ts := uint32(0)
			b.SetBytes(5000 + 600 + 20 + 4)
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				ts += 40
				check(w.Append(&batch, Header{CSID: 6, Timestamp: ts, Type: 9, StreamID: 1}, video))
				check(w.Append(&batch, Header{CSID: 4, Timestamp: ts, Type: 8, StreamID: 1}, audio))
				check(w.Append(&batch, Header{CSID: 4, Timestamp: ts + 23, Type: 8, StreamID: 1}, audio))
				check(w.Append(&batch, Header{CSID: 5, Timestamp: ts, Type: 18, StreamID: 1}, data))
				check(w.Append(&batch, Header{CSID: 2, Type: 3}, ack))
				if _, err := batch.WriteTo(conn); err != nil {
					b.Fatal(err)
				}
			}
			conn.Close()
			<-done
			// Wall time is dominated by the loopback; CPU time per tick
			// (both ends, whole process) is what the threshold changes.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime(tb testing.TB) int64 {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// msgReader returns one encoded message per Read, like a socket that
// receives each message separately: the Reader's buffer drains after every
// message, so this measures the release/re-acquire path of idle Readers.
type msgReader struct {
	msgs [][]byte
	i    int
	off  int
}

func (m *msgReader) Read(p []byte) (int, error) {
	cur := m.msgs[m.i]
	n := copy(p, cur[m.off:])
	m.off += n
	if m.off == len(cur) {
		m.off = 0
		m.i = (m.i + 1) % len(m.msgs)
	}
	return n, nil
}

func BenchmarkReaderDrained(b *testing.B) {
	w := NewWriter()
	var msgs [][]byte
	for i := range 50 {
		msgs = append(msgs, must(w.AppendBytes(nil, Header{CSID: 4, Timestamp: uint32(i * 23), Type: 8, StreamID: 1}, seq(300))))
	}
	r := NewReader(&msgReader{msgs: msgs}, Limits{})
	b.SetBytes(300)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
