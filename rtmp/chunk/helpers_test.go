package chunk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

// hx decodes hex with optional spaces.
func hx(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// must returns v, panicking on err: for encoding what tests know fits.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// check panics on err: for Writer.Append calls that tests know succeed.
func check(err error) {
	if err != nil {
		panic(err)
	}
}

// seq returns n bytes 0, 1, 2, ... (mod 256).
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

type msg struct {
	h Header
	p []byte
}

// readAll reads messages until an error; io.EOF is reported as nil.
func readAll(r io.Reader, lim Limits) ([]msg, *Reader, error) {
	cr := NewReader(r, lim)
	var out []msg
	for {
		h, p, err := cr.ReadMessage()
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return out, cr, nil
		}
		if err != nil {
			return out, cr, err
		}
		out = append(out, msg{h, p})
	}
}

func equalMsgs(a, b []msg) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].h != b[i].h || !bytes.Equal(a[i].p, b[i].p) {
			return false
		}
	}
	return true
}

// splitReader returns data in pieces whose sizes cycle through sizes.
type splitReader struct {
	data  []byte
	sizes []int
	i     int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(s.sizes) > 0 {
		n = s.sizes[s.i%len(s.sizes)]
		s.i++
	}
	n = max(1, min(n, len(p), len(s.data)))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// twoPiece returns data in exactly two reads split at k.
type twoPiece struct {
	a, b []byte
}

func (t *twoPiece) Read(p []byte) (int, error) {
	if len(t.a) > 0 {
		n := copy(p, t.a)
		t.a = t.a[n:]
		return n, nil
	}
	if len(t.b) > 0 {
		n := copy(p, t.b)
		t.b = t.b[n:]
		return n, nil
	}
	return 0, io.EOF
}
