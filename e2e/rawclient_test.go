//go:build e2e

package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// rawConn is a hand-made RTMP client for the tests that need to misbehave:
// every byte it sends is written here (docs/rtmp.md#handshake), independent of the
// server's own packages.
type rawConn struct {
	t  testing.TB
	c  *net.TCPConn
	br *bufio.Reader

	outChunk int // our chunk size: the default 128, we never change it
	inChunk  int // the server's chunk size (it sends Set Chunk Size)
	in       map[uint32]*inState
}

// inState is the reader state of one incoming chunk stream.
type inState struct {
	ts, delta uint32
	length    uint32
	typ       uint8
	msid      uint32
	extended  bool
	buf       []byte
}

// dialRaw connects to addr. rcvBuf > 0 sets SO_RCVBUF before connecting, so
// that a client that stops reading fills its window quickly. The
// connection is closed at cleanup.
func dialRaw(t testing.TB, addr string, rcvBuf int) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			return errors.Join(err, serr)
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c.(*net.TCPConn), br: bufio.NewReaderSize(c, 64<<10), outChunk: 128, inChunk: 128, in: map[uint32]*inState{}}
}

// local is the client's address, i.e. the `remote` of the server's logs.
func (r *rawConn) local() string { return r.c.LocalAddr().String() }

func (r *rawConn) write(b []byte) error {
	_ = r.c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	_, err := r.c.Write(b)
	return err
}

// handshake performs the simple (unsigned) handshake: C0 = 3, C1 = time 0,
// zero version, random bytes; C2 echoes S1 (docs/rtmp.md#handshake).
func (r *rawConn) handshake() error {
	c0c1 := make([]byte, 1+1536)
	c0c1[0] = 3
	if _, err := rand.Read(c0c1[9:]); err != nil {
		return err
	}
	if err := r.write(c0c1); err != nil {
		return fmt.Errorf("write C0C1: %w", err)
	}
	_ = r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	s := make([]byte, 1+1536+1536)
	if _, err := io.ReadFull(r.br, s); err != nil {
		return fmt.Errorf("read S0S1S2: %w", err)
	}
	if s[0] != 3 {
		return fmt.Errorf("S0 = %d, want 3", s[0])
	}
	if err := r.write(s[1 : 1+1536]); err != nil {
		return fmt.Errorf("write C2: %w", err)
	}
	return nil
}

// chunkHeader0 appends a fmt 0 chunk header (docs/rtmp.md#basic-header, docs/rtmp.md#message-header).
func chunkHeader0(b []byte, csid uint32, ts uint32, length int, typ uint8, msid uint32) []byte {
	b = appendBasicHeader(b, 0, csid)
	ext := ts >= 0xFFFFFF
	tsField := ts
	if ext {
		tsField = 0xFFFFFF
	}
	b = append(b, byte(tsField>>16), byte(tsField>>8), byte(tsField))
	b = append(b, byte(length>>16), byte(length>>8), byte(length))
	b = append(b, typ)
	b = binary.LittleEndian.AppendUint32(b, msid)
	if ext {
		b = binary.BigEndian.AppendUint32(b, ts)
	}
	return b
}

func appendBasicHeader(b []byte, fmtBits uint8, csid uint32) []byte {
	switch {
	case csid >= 2 && csid <= 63:
		return append(b, fmtBits<<6|byte(csid))
	case csid >= 64 && csid <= 319:
		return append(b, fmtBits<<6, byte(csid-64))
	default:
		v := csid - 64
		return append(b, fmtBits<<6|1, byte(v), byte(v>>8))
	}
}

// appendMessage appends one message as a fmt 0 chunk plus fmt 3
// continuation chunks of at most chunkSize bytes.
func appendMessage(b []byte, csid uint32, typ uint8, msid uint32, payload []byte, chunkSize int) []byte {
	b = chunkHeader0(b, csid, 0, len(payload), typ, msid)
	for first := true; first || len(payload) > 0; first = false {
		if !first {
			b = appendBasicHeader(b, 3, csid)
		}
		n := min(chunkSize, len(payload))
		b = append(b, payload[:n]...)
		payload = payload[n:]
	}
	return b
}

func (r *rawConn) writeMessage(csid uint32, typ uint8, msid uint32, payload []byte) error {
	return r.write(appendMessage(nil, csid, typ, msid, payload, r.outChunk))
}

// rawMessage is one complete incoming RTMP message.
type rawMessage struct {
	typ     uint8
	msid    uint32
	payload []byte
}

// readMessage reads chunks until one message is complete. It applies the
// server's Set Chunk Size itself (and still returns that message).
func (r *rawConn) readMessage(timeout time.Duration) (rawMessage, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	for {
		b0, err := r.br.ReadByte()
		if err != nil {
			return rawMessage{}, err
		}
		fmtBits := b0 >> 6
		csid := uint32(b0 & 0x3f)
		switch csid {
		case 0:
			b1, err := r.br.ReadByte()
			if err != nil {
				return rawMessage{}, err
			}
			csid = 64 + uint32(b1)
		case 1:
			var b [2]byte
			if _, err := io.ReadFull(r.br, b[:]); err != nil {
				return rawMessage{}, err
			}
			csid = 64 + uint32(b[0]) + 256*uint32(b[1])
		}
		st := r.in[csid]
		if st == nil {
			if fmtBits != 0 {
				return rawMessage{}, fmt.Errorf("csid %d: first chunk has fmt %d", csid, fmtBits)
			}
			st = &inState{}
			r.in[csid] = st
		}
		hdrLen := [4]int{11, 7, 3, 0}[fmtBits]
		var h [11]byte
		if _, err := io.ReadFull(r.br, h[:hdrLen]); err != nil {
			return rawMessage{}, err
		}
		starting := len(st.buf) == 0
		if hdrLen >= 3 {
			field := uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
			st.extended = field == 0xFFFFFF
			if hdrLen >= 7 {
				st.length = uint32(h[3])<<16 | uint32(h[4])<<8 | uint32(h[5])
				st.typ = h[6]
			}
			if hdrLen == 11 {
				st.msid = binary.LittleEndian.Uint32(h[7:11])
			}
			if st.extended {
				var e [4]byte
				if _, err := io.ReadFull(r.br, e[:]); err != nil {
					return rawMessage{}, err
				}
				field = binary.BigEndian.Uint32(e[:])
			}
			if fmtBits == 0 {
				st.ts, st.delta = field, field
			} else {
				st.delta = field
				st.ts += field
			}
		} else {
			if st.extended {
				var e [4]byte
				if _, err := io.ReadFull(r.br, e[:]); err != nil {
					return rawMessage{}, err
				}
			}
			if starting {
				st.ts += st.delta
			}
		}
		n := min(int(st.length)-len(st.buf), r.inChunk)
		start := len(st.buf)
		st.buf = append(st.buf, make([]byte, n)...)
		if _, err := io.ReadFull(r.br, st.buf[start:]); err != nil {
			return rawMessage{}, err
		}
		if len(st.buf) < int(st.length) {
			continue
		}
		m := rawMessage{typ: st.typ, msid: st.msid, payload: st.buf}
		st.buf = nil
		if m.typ == 1 && len(m.payload) >= 4 {
			r.inChunk = int(binary.BigEndian.Uint32(m.payload) & 0x7fffffff)
		}
		return m, nil
	}
}

// command sends an AMF0 command (type 20) on csid 3 (NetConnection) or 8
// (NetStream commands), msid as given.
func (r *rawConn) command(csid uint32, msid uint32, name string, txn float64, args ...any) error {
	p := amf0(nil, name)
	p = amf0(p, txn)
	for _, a := range args {
		p = amf0(p, a)
	}
	return r.writeMessage(csid, 20, msid, p)
}

// awaitCommand reads messages until a command named one of names arrives
// and returns its decoded values.
func (r *rawConn) awaitCommand(timeout time.Duration, names ...string) ([]any, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := r.readMessage(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if m.typ != 20 {
			continue
		}
		vals, err := decodeAMF0All(m.payload)
		if err != nil {
			return nil, fmt.Errorf("decoding command: %w", err)
		}
		if len(vals) == 0 {
			continue
		}
		for _, n := range names {
			if vals[0] == n {
				return vals, nil
			}
		}
	}
}

// connect sends connect for app and waits for its _result.
func (r *rawConn) connect(app, tcURL string) error {
	err := r.command(3, 0, "connect", 1, amfObject{
		{"app", app}, {"flashVer", "LNX 9,0,124,2"}, {"tcUrl", tcURL}, {"fpad", false},
		{"capabilities", 15.0}, {"audioCodecs", 4071.0}, {"videoCodecs", 252.0}, {"videoFunction", 1.0},
	})
	if err != nil {
		return err
	}
	vals, err := r.awaitCommand(20*time.Second, "_result", "_error")
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if vals[0] != "_result" {
		return fmt.Errorf("connect: %v", vals)
	}
	return nil
}

// createStream returns the new stream id.
func (r *rawConn) createStream() (uint32, error) {
	if err := r.command(3, 0, "createStream", 2, nil); err != nil {
		return 0, err
	}
	vals, err := r.awaitCommand(20*time.Second, "_result", "_error")
	if err != nil {
		return 0, fmt.Errorf("createStream: %w", err)
	}
	if vals[0] != "_result" || len(vals) < 4 {
		return 0, fmt.Errorf("createStream: %v", vals)
	}
	id, ok := vals[3].(float64)
	if !ok {
		return 0, fmt.Errorf("createStream: stream id %v", vals[3])
	}
	return uint32(id), nil
}

// play sends play(name) on stream id and waits for NetStream.Play.Start.
func (r *rawConn) play(id uint32, name string) error {
	if err := r.command(8, id, "play", 0, nil, name, -2.0); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		vals, err := r.awaitCommand(time.Until(deadline), "onStatus")
		if err != nil {
			return fmt.Errorf("play: %w", err)
		}
		if len(vals) >= 4 {
			if info, ok := vals[3].(amfObject); ok {
				switch code := info.get("code"); code {
				case "NetStream.Play.Start":
					return nil
				case "NetStream.Play.Failed", "NetStream.Play.StreamNotFound":
					return fmt.Errorf("play: %v", code)
				}
			}
		}
	}
}

// connectAndPlay does the whole player exchange for app/stream.
func (r *rawConn) connectAndPlay(srv *server, app, stream string) error {
	if err := r.handshake(); err != nil {
		return err
	}
	if err := r.connect(app, "rtmp://"+srv.rtmpAddr+"/"+app); err != nil {
		return err
	}
	id, err := r.createStream()
	if err != nil {
		return err
	}
	return r.play(id, stream)
}

// waitServerClose reads and discards until the server closes the
// connection; it returns false if that did not happen within timeout.
func (r *rawConn) waitServerClose(timeout time.Duration) bool {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, r.br)
	ne, ok := errors.AsType[net.Error](err)
	return !ok || !ne.Timeout()
}

// inQueue is how many received bytes wait unread in the socket (SIOCINQ).
func (r *rawConn) inQueue() int {
	rc, err := r.c.SyscallConn()
	if err != nil {
		return -1
	}
	var n int32
	_ = rc.Control(func(fd uintptr) {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
		if errno != 0 {
			n = -1
		}
	})
	return int(n)
}

// ---------------------------------------------------------------------------
// AMF0 (docs/amf.md#amf0), just enough for commands.

type amfProp struct {
	key string
	val any
}

// amfObject is an ordered AMF0 object.
type amfObject []amfProp

func (o amfObject) get(key string) any {
	for _, p := range o {
		if p.key == key {
			return p.val
		}
	}
	return nil
}

// amf0 appends v: float64, int, bool, string, nil (null) or amfObject.
func amf0(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 0x05)
	case float64:
		b = append(b, 0x00)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	case int:
		return amf0(b, float64(v))
	case bool:
		if v {
			return append(b, 0x01, 1)
		}
		return append(b, 0x01, 0)
	case string:
		b = append(b, 0x02)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		return append(b, v...)
	case amfObject:
		b = append(b, 0x03)
		for _, p := range v {
			b = binary.BigEndian.AppendUint16(b, uint16(len(p.key)))
			b = append(b, p.key...)
			b = amf0(b, p.val)
		}
		return append(b, 0, 0, 0x09)
	}
	panic(fmt.Sprintf("amf0: unsupported %T", v))
}

// deepAMF0Object is an AMF0 object nested depth levels deep:
// {a: {a: {... {}}}}, written iteratively.
func deepAMF0Object(depth int) []byte {
	b := make([]byte, 0, depth*7+1)
	for range depth {
		b = append(b, 0x03, 0, 1, 'a')
	}
	b = append(b, 0x03, 0, 0, 0x09)
	for range depth {
		b = append(b, 0, 0, 0x09)
	}
	return b
}

// decodeAMF0All decodes a sequence of AMF0 values (numbers, booleans,
// strings, objects, ECMA arrays, null, undefined); enough to read the
// server's replies.
func decodeAMF0All(b []byte) ([]any, error) {
	var out []any
	for len(b) > 0 {
		v, n, err := decodeAMF0(b, 0)
		if err != nil {
			return out, err
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

func decodeAMF0(b []byte, depth int) (any, int, error) {
	if depth > 32 {
		return nil, 0, errors.New("amf0: too deep")
	}
	if len(b) < 1 {
		return nil, 0, io.ErrUnexpectedEOF
	}
	str := func(b []byte) (string, int, error) {
		if len(b) < 2 {
			return "", 0, io.ErrUnexpectedEOF
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return "", 0, io.ErrUnexpectedEOF
		}
		return string(b[2 : 2+n]), 2 + n, nil
	}
	props := func(b []byte) (amfObject, int, error) {
		var o amfObject
		off := 0
		for {
			k, n, err := str(b[off:])
			if err != nil {
				return nil, 0, err
			}
			off += n
			if k == "" && off < len(b) && b[off] == 0x09 {
				return o, off + 1, nil
			}
			v, n, err := decodeAMF0(b[off:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			off += n
			o = append(o, amfProp{k, v})
		}
	}
	switch b[0] {
	case 0x00:
		if len(b) < 9 {
			return nil, 0, io.ErrUnexpectedEOF
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), 9, nil
	case 0x01:
		if len(b) < 2 {
			return nil, 0, io.ErrUnexpectedEOF
		}
		return b[1] != 0, 2, nil
	case 0x02:
		s, n, err := str(b[1:])
		return s, 1 + n, err
	case 0x03:
		o, n, err := props(b[1:])
		return o, 1 + n, err
	case 0x05, 0x06:
		return nil, 1, nil
	case 0x08:
		if len(b) < 5 {
			return nil, 0, io.ErrUnexpectedEOF
		}
		o, n, err := props(b[5:])
		return o, 5 + n, err
	}
	return nil, 0, fmt.Errorf("amf0: marker 0x%02x not supported by the test client", b[0])
}
