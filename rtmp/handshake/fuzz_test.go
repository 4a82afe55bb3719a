package handshake

import (
	"bytes"
	"testing"
)

// FuzzServerHandshake feeds arbitrary bytes to Server as C0+C1+C2. It must
// not panic or hang, must succeed only on a full 3073-byte handshake with
// C0 = 3, must not read past C2, and a digest answer must verify.
func FuzzServerHandshake(f *testing.F) {
	for _, s := range []int{0, Scheme1, Scheme2} {
		var v uint32
		if s != 0 {
			v = 0x09007c02
		}
		in, _ := clientBlocks(s, v, make([]byte, BlockSize))
		f.Add(in)
	}
	unsigned, _ := clientBlocks(0, 0x09007c02, bytes.Repeat([]byte{1}, BlockSize))
	f.Add(unsigned)
	f.Add([]byte{6})
	f.Add([]byte("POST /open/1 HTTP/1.1\r\n"))
	f.Add([]byte{3, 0, 0})

	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &scriptedConn{in: bytes.NewReader(data)}
		info, err := Server(conn, detRand(1))
		if err != nil {
			return
		}
		if len(data) < 1+2*BlockSize || data[0] != 3 {
			t.Fatalf("accepted %d bytes starting %d", len(data), data[0])
		}
		if left := conn.in.Len(); left != len(data)-(1+2*BlockSize) {
			t.Fatalf("consumed past C2: %d bytes left of %d", left, len(data))
		}
		out := conn.out.Bytes()
		if len(out) != 1+2*BlockSize {
			t.Fatalf("wrote %d bytes", len(out))
		}
		if info.Digest {
			s1, s2 := out[1:1+BlockSize], out[1+BlockSize:]
			scheme, _ := findDigest(s1, serverKey[:36], info.Scheme)
			_, cd := findDigest(data[1:1+BlockSize], playerKey[:30], info.Scheme)
			if scheme != info.Scheme || cd == nil || !checkSecond(s2, secondBlockKey(serverKey, cd)) {
				t.Fatalf("digest answer does not verify (scheme %d)", info.Scheme)
			}
		} else if !bytes.Equal(out[1+BlockSize:], data[1:1+BlockSize]) {
			t.Fatal("simple S2 is not an echo of C1")
		}
	})
}
