package handshake

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// vectorBlock builds a block as docs/rtmp.md#handshake-test-vectors describes: zero time, the
// version, then b[i] = (i*seed + 3) & 0xff.
func vectorBlock(seed int, version uint32) []byte {
	b := make([]byte, BlockSize)
	binary.BigEndian.PutUint32(b[4:8], version)
	for i := 8; i < BlockSize; i++ {
		b[i] = byte(i*seed + 3)
	}
	return b
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDigestVectors(t *testing.T) {
	tests := []struct {
		name    string
		seed    int
		version uint32
		scheme  int
		key     []byte
		bytesAt int    // where the offset-sum bytes start
		sumHex  string // those 4 bytes
		offset  int
		digest  string
	}{
		{"docs/rtmp.md#handshake-test-vectors scheme 1", 7, 0x09007c02, Scheme1, playerKey[:30], 8, "3b424950", 290,
			"612af37c38c4a1b74e5737fc4021ded17ed92a9431c19bc665cf421131bad8a6"},
		{"docs/rtmp.md#handshake-test-vectors scheme 2", 7, 0x09007c02, Scheme2, playerKey[:30], 772, "1f262d34", 942,
			"e6a7fbdda4aab503b4e693e92d6f18d9d4b89f3ef0e95fffe767a4830aa37109"},
		{"docs/rtmp.md#handshake-test-vectors S1 scheme 1", 13, 0x03050101, Scheme1, serverKey[:36], 8, "6b788592", 518,
			"5a2b6d7df2864cd7b7e7e33faf4b28c1429e11ec8e70beb146f5f1517fdfffa1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := vectorBlock(tc.seed, tc.version)
			if got := hex.EncodeToString(b[tc.bytesAt : tc.bytesAt+4]); got != tc.sumHex {
				t.Fatalf("offset bytes = %s, want %s", got, tc.sumHex)
			}
			if off := digestOffset(b, tc.scheme); off != tc.offset {
				t.Fatalf("offset = %d, want %d", off, tc.offset)
			}
			d := imprint(b, tc.scheme, tc.key)
			if got := hex.EncodeToString(d); got != tc.digest {
				t.Fatalf("digest = %s, want %s", got, tc.digest)
			}
			if !bytes.Equal(b[tc.offset:tc.offset+32], mustHex(t, tc.digest)) {
				t.Fatal("digest not stored at its offset")
			}
			scheme, found := findDigest(b, tc.key, Scheme1, Scheme2)
			if scheme != tc.scheme || !bytes.Equal(found, d) {
				t.Fatalf("findDigest = %d %x, want %d", scheme, found, tc.scheme)
			}
			// One flipped bit anywhere outside the digest breaks it.
			b[tc.offset-1] ^= 1
			if scheme, _ := findDigest(b, tc.key, Scheme1, Scheme2); scheme != 0 {
				t.Fatalf("tampered block still validates in scheme %d", scheme)
			}
		})
	}
}

func TestSecondBlockVectors(t *testing.T) {
	c1 := vectorBlock(7, 0x09007c02)
	c1Digest := imprint(c1, Scheme1, playerKey[:30])
	s1 := vectorBlock(13, 0x03050101)
	s1Digest := imprint(s1, Scheme1, serverKey[:36])

	tests := []struct {
		name       string
		fullKey    []byte
		peerDigest []byte
		mul, add   int
		key, sig   string
	}{
		{"docs/rtmp.md#handshake-test-vectors S2", serverKey, c1Digest, 11, 5,
			"b64b9cb0ff0d9abe14b38c4638d3af7b13e7e857b3c2af49eb5449fde909256e",
			"a7566e792d45a287ba3e2f5b3c244eb003ba642ae98e998eaf2af830ca06c0be"},
		{"docs/rtmp.md#handshake-test-vectors", playerKey, s1Digest, 17, 1,
			"107c9ea70752f80efa624548f4582d666fed73d79314d8e0c6e6c75c5192bcdd",
			"46a6e99821a27de853b0018a10611cd1da195cece4273a7a7c25c7856c24d89a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(playerKey) != 62 || len(serverKey) != 68 {
				t.Fatalf("key lengths %d %d, want 62 68", len(playerKey), len(serverKey))
			}
			key := secondBlockKey(tc.fullKey, tc.peerDigest)
			if got := hex.EncodeToString(key); got != tc.key {
				t.Fatalf("key = %s, want %s", got, tc.key)
			}
			b := make([]byte, BlockSize)
			for i := range BlockSize - 32 {
				b[i] = byte(i*tc.mul + tc.add)
			}
			signSecond(b, key)
			if got := hex.EncodeToString(b[BlockSize-32:]); got != tc.sig {
				t.Fatalf("signature = %s, want %s", got, tc.sig)
			}
			if !checkSecond(b, key) {
				t.Fatal("checkSecond rejects its own signature")
			}
			b[0] ^= 0x80
			if checkSecond(b, key) {
				t.Fatal("checkSecond accepts a tampered block")
			}
		})
	}
}

// detRand is a deterministic random source for reproducible handshakes.
func detRand(seed uint64) io.Reader {
	return &chachaReader{rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})}
}

type chachaReader struct{ c *rand.ChaCha8 }

func (r *chachaReader) Read(p []byte) (int, error) { return r.c.Read(p) }

type result struct {
	info Info
	err  error
}

// pipeHandshake runs Server and Client against each other over net.Pipe.
func pipeHandshake(t *testing.T, opts ClientOptions) (server, client Info) {
	t.Helper()
	sc, cc := net.Pipe()
	t.Cleanup(func() { sc.Close(); cc.Close() })
	done := make(chan result, 1)
	go func() {
		info, err := Server(sc, detRand(1))
		done <- result{info, err}
	}()
	ci, cerr := Client(cc, opts)
	if cerr != nil {
		sc.Close() // unblock the server
	}
	sr := <-done
	if cerr != nil || sr.err != nil {
		t.Fatalf("client err %v, server err %v", cerr, sr.err)
	}
	return sr.info, ci
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		opts       ClientOptions
		wantDigest bool
		wantVer    uint32
	}{
		{"simple (librtmp/OBS style)", ClientOptions{Rand: detRand(2)}, false, 0},
		{"digest default version (ffmpeg style)", ClientOptions{Digest: true, Rand: detRand(3)}, true, DefaultClientVersion},
		{"digest librtmp swfVfy version", ClientOptions{Digest: true, Rand: detRand(4), Version: 0x0a002d02}, true, 0x0a002d02},
		{"digest crypto/rand", ClientOptions{Digest: true}, true, DefaultClientVersion},
		{"simple ignores Version", ClientOptions{Version: 0x0a002d02}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			si, ci := pipeHandshake(t, tc.opts)
			if si.Digest != tc.wantDigest || ci.Digest != tc.wantDigest {
				t.Fatalf("digest: server %v client %v, want %v", si.Digest, ci.Digest, tc.wantDigest)
			}
			if si.PeerVersion != tc.wantVer {
				t.Fatalf("server saw version %#x, want %#x", si.PeerVersion, tc.wantVer)
			}
			if tc.wantDigest {
				if si.Scheme != Scheme1 || ci.Scheme != Scheme1 {
					t.Fatalf("schemes: server %d client %d, want 1", si.Scheme, ci.Scheme)
				}
				if ci.PeerVersion != serverVersion {
					t.Fatalf("client saw server version %#x", ci.PeerVersion)
				}
			} else if si.Scheme != 0 || ci.Scheme != 0 {
				t.Fatalf("simple form has schemes %d %d", si.Scheme, ci.Scheme)
			}
		})
	}
}

// scriptedConn feeds a fixed input and records the output.
type scriptedConn struct {
	in  *bytes.Reader
	out bytes.Buffer
	w   int // number of Write calls
}

func (c *scriptedConn) Read(p []byte) (int, error) { return c.in.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error) {
	c.w++
	return c.out.Write(p)
}

// clientBlocks builds C0, C1 (signed in scheme if non-zero) and a C2.
func clientBlocks(scheme int, version uint32, c2 []byte) (in []byte, c1 []byte) {
	c1 = vectorBlock(7, version)
	binary.BigEndian.PutUint32(c1[0:4], 0x01020304)
	if scheme != 0 {
		imprint(c1, scheme, playerKey[:30])
	}
	in = append([]byte{3}, c1...)
	in = append(in, c2...)
	return in, c1
}

func TestServerAnswers(t *testing.T) {
	junkC2 := bytes.Repeat([]byte{0xAB}, BlockSize)
	tests := []struct {
		name    string
		scheme  int    // client's C1 digest scheme, 0 for none
		version uint32 // C1 bytes 4..7
		digest  bool   // expected form of the answer
	}{
		{"Flash Player 6-8 simple (C2 does not echo S1)", 0, 0, false},
		{"ffmpeg scheme 1 (C2 does not echo S1)", Scheme1, 0x09007c02, true},
		{"Flash Player build using scheme 2", Scheme2, 0x0a002d02, true},
		{"version set but unsigned falls back to simple", 0, 0x09007c02, false},
		{"RTMPE version without RTMPE C0 is still signed", Scheme2, 0x80000302, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, c1 := clientBlocks(tc.scheme, tc.version, junkC2)
			trailer := []byte("connect follows")
			conn := &scriptedConn{in: bytes.NewReader(append(in, trailer...))}
			info, err := Server(conn, detRand(9))
			if err != nil {
				t.Fatal(err)
			}
			if conn.w != 1 {
				t.Errorf("S0+S1+S2 written in %d writes, want 1", conn.w)
			}
			if rest, _ := io.ReadAll(conn.in); !bytes.Equal(rest, trailer) {
				t.Errorf("server consumed bytes past C2: %d of the trailer left", len(rest))
			}
			want := Info{Digest: tc.digest, PeerVersion: tc.version, PeerEpoch: 0x01020304}
			if tc.digest {
				want.Scheme = tc.scheme
			}
			if info != want {
				t.Fatalf("info = %+v, want %+v", info, want)
			}
			out := conn.out.Bytes()
			if len(out) != 1+2*BlockSize || out[0] != 3 {
				t.Fatalf("output %d bytes, S0 %d", len(out), out[0])
			}
			s1, s2 := out[1:1+BlockSize], out[1+BlockSize:]
			if !tc.digest {
				if !bytes.Equal(s2, c1) {
					t.Fatal("simple S2 is not an echo of C1")
				}
				if !bytes.Equal(s1[4:8], []byte{0, 0, 0, 0}) {
					t.Fatalf("simple S1 version bytes %x, want zero", s1[4:8])
				}
				return
			}
			// Check the answer the way ffmpeg and librtmp do.
			if s1[4] < 3 {
				t.Fatalf("S1 version byte %d < 3: ffmpeg would treat us as simple", s1[4])
			}
			scheme, sd := findDigest(s1, serverKey[:36], Scheme2, Scheme1)
			if scheme != tc.scheme {
				t.Fatalf("S1 digest in scheme %d, want %d", scheme, tc.scheme)
			}
			_, cd := findDigest(c1, playerKey[:30], tc.scheme)
			if !checkSecond(s2, secondBlockKey(serverKey, cd)) {
				t.Fatal("S2 signature invalid")
			}
			_ = sd
		})
	}
}

func TestVersionErrors(t *testing.T) {
	tests := []struct {
		name  string
		c0    byte
		rtmpe bool
	}{
		{"RTMPE 6", 6, true},
		{"RTMPE XTEA 8", 8, true},
		{"RTMPE Blowfish 9", 9, true},
		{"HTTP POST", 'P', false},
		{"zero", 0, false},
		{"version 4", 4, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Only C0 is supplied: the server must refuse before reading C1.
			_, err := Server(&scriptedConn{in: bytes.NewReader([]byte{tc.c0})}, nil)
			if !errors.Is(err, ErrBadVersion) {
				t.Fatalf("err = %v, want ErrBadVersion", err)
			}
			if errors.Is(err, ErrRTMPE) != tc.rtmpe {
				t.Fatalf("err = %v, RTMPE = %v", err, tc.rtmpe)
			}
			// And the client side refuses the same S0.
			in := append([]byte{tc.c0}, make([]byte, 2*BlockSize)...)
			_, err = Client(&scriptedConn{in: bytes.NewReader(in)}, ClientOptions{})
			if !errors.Is(err, ErrBadVersion) || errors.Is(err, ErrRTMPE) != tc.rtmpe {
				t.Fatalf("client err = %v", err)
			}
		})
	}
}

func TestServerTruncated(t *testing.T) {
	full, _ := clientBlocks(Scheme1, 0x09007c02, make([]byte, BlockSize))
	for _, n := range []int{0, 1, 100, 1 + BlockSize, 1 + BlockSize + 1, len(full) - 1} {
		_, err := Server(&scriptedConn{in: bytes.NewReader(full[:n])}, nil)
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes: err = %v, want EOF", n, err)
		}
	}
}

// fakeServer builds an S0+S1+S2 answer to c1 with optional corruption.
func fakeServer(c1 []byte, s1Version uint32, corruptS1, corruptS2 bool) []byte {
	out := make([]byte, 1+2*BlockSize)
	out[0] = 3
	s1, s2 := out[1:1+BlockSize], out[1+BlockSize:]
	for i := 8; i < BlockSize; i++ {
		s1[i] = byte(i * 5)
		s2[i] = byte(i * 3)
	}
	binary.BigEndian.PutUint32(s1[4:8], s1Version)
	if s1Version>>24 >= 3 {
		imprint(s1, Scheme2, serverKey[:36])
		_, cd := findDigest(c1, playerKey[:30], Scheme1)
		signSecond(s2, secondBlockKey(serverKey, cd))
	}
	if corruptS1 {
		s1[100] ^= 1
		s1[1000] ^= 1
	}
	if corruptS2 {
		s2[0] ^= 1
	}
	return out
}

// answeringConn answers the client's C0+C1 with a function of C1.
type answeringConn struct {
	answer func(c1 []byte) []byte
	in     *bytes.Reader
	out    bytes.Buffer
}

func (c *answeringConn) Write(p []byte) (int, error) {
	if c.in == nil {
		c.in = bytes.NewReader(c.answer(p[1:]))
	}
	return c.out.Write(p)
}

func (c *answeringConn) Read(p []byte) (int, error) {
	if c.in == nil {
		return 0, errors.New("read before write")
	}
	return c.in.Read(p)
}

func TestClientChecksServer(t *testing.T) {
	tests := []struct {
		name         string
		s1Version    uint32
		badS1, badS2 bool
		wantErr      error
		wantDigest   bool
	}{
		{"FMS-style signed answer, scheme 2", 0x03050101, false, false, nil, true},
		{"bad S1 digest", 0x04050001, true, false, ErrBadDigest, false},
		{"bad S2 signature", 0x03050101, false, true, ErrBadDigest, false},
		{"simple server (S1[4] < 3) is accepted unsigned", 0x00000000, false, false, nil, false},
		{"old server version 2 treated as simple", 0x02000000, true, true, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := &answeringConn{answer: func(c1 []byte) []byte {
				return fakeServer(c1, tc.s1Version, tc.badS1, tc.badS2)
			}}
			info, err := Client(conn, ClientOptions{Digest: true, Rand: detRand(5)})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if info.Digest != tc.wantDigest || info.PeerVersion != tc.s1Version {
				t.Fatalf("info = %+v", info)
			}
			out := conn.out.Bytes()
			if len(out) != 1+2*BlockSize {
				t.Fatalf("client wrote %d bytes", len(out))
			}
			c1, c2 := out[1:1+BlockSize], out[1+BlockSize:]
			if _, d := findDigest(c1, playerKey[:30], Scheme1); d == nil {
				t.Fatal("C1 not signed in scheme 1")
			}
			s := conn.answer(c1)
			s1 := s[1 : 1+BlockSize]
			if !tc.wantDigest {
				if !bytes.Equal(c2, s1) {
					t.Fatal("C2 does not echo S1")
				}
				return
			}
			_, sd := findDigest(s1, serverKey[:36], Scheme2)
			if !checkSecond(c2, secondBlockKey(playerKey, sd)) {
				t.Fatal("C2 signature invalid")
			}
		})
	}
}
