package remoting

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/openfcs/openfcs/amf"
)

// Smallest encodings, used to check a declared count against what is left
// of the input before allocating for it: a name or target of length 0, the
// flag, the value length and a one-byte value (null).
const (
	minHeader  = 2 + 1 + 4 + 1
	minMessage = 2 + 2 + 4 + 1
)

// Append appends the encoding of p to b. Values are written as AMF0 (a
// value with no AMF0 form switches to AMF3 with marker 0x11), each with its
// measured length. It fails with amf.ErrTooLarge when a name, a count or
// the packet exceeds what the format or lim.MaxBytes allows; b is then
// returned unchanged.
func (p *Packet) Append(b []byte, lim Limits) ([]byte, error) {
	lim = lim.resolved()
	start := len(b)
	fail := func(err error) ([]byte, error) { return b[:start], err }
	if len(p.Headers) > math.MaxUint16 || len(p.Messages) > math.MaxUint16 {
		return fail(fmt.Errorf("remoting: %d headers, %d messages: %w", len(p.Headers), len(p.Messages), amf.ErrTooLarge))
	}
	enc := amf.Encoder{Limits: lim.Value}
	var err error
	b = binary.BigEndian.AppendUint16(b, p.Version)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Headers)))
	for i := range p.Headers {
		h := &p.Headers[i]
		if b, err = appendStr(b, h.Name); err != nil {
			return fail(fmt.Errorf("remoting: header name: %w", err))
		}
		flag := byte(0)
		if h.MustUnderstand {
			flag = 1
		}
		b = append(b, flag)
		if b, err = appendValue(b, &enc, h.Value); err != nil {
			return fail(fmt.Errorf("remoting: header %q: %w", h.Name, err))
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Messages)))
	for i := range p.Messages {
		m := &p.Messages[i]
		if b, err = appendStr(b, m.Target); err != nil {
			return fail(fmt.Errorf("remoting: message target: %w", err))
		}
		if b, err = appendStr(b, m.Response); err != nil {
			return fail(fmt.Errorf("remoting: message response: %w", err))
		}
		if b, err = appendValue(b, &enc, m.Value); err != nil {
			return fail(fmt.Errorf("remoting: message %q: %w", m.Target, err))
		}
		if len(b)-start > lim.MaxBytes {
			break
		}
	}
	if n := len(b) - start; n > lim.MaxBytes {
		return fail(fmt.Errorf("remoting: packet of %d bytes exceeds limit %d: %w", n, lim.MaxBytes, amf.ErrTooLarge))
	}
	return b, nil
}

// Marshal returns the encoding of p (see Append).
func (p *Packet) Marshal(lim Limits) ([]byte, error) { return p.Append(nil, lim) }

func appendStr(b []byte, s string) ([]byte, error) {
	if len(s) > math.MaxUint16 {
		return b, fmt.Errorf("string of %d bytes: %w", len(s), amf.ErrTooLarge)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...), nil
}

// appendValue writes a value's length and the value; the length is filled
// in once the value is written.
func appendValue(b []byte, enc *amf.Encoder, v amf.Value) ([]byte, error) {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	enc.Reset()
	out, err := enc.AppendAMF0Switched(b, v)
	if err != nil {
		return b[:at], err
	}
	n := len(out) - at - 4
	if uint64(n) >= UnknownLength {
		return b[:at], fmt.Errorf("value of %d bytes: %w", n, amf.ErrTooLarge)
	}
	binary.BigEndian.PutUint32(out[at:], uint32(n))
	return out, nil
}

// Unmarshal decodes a packet from b into p, reusing p's slices. Decoded
// strings are copies: p does not alias b.
//
// A declared value length is checked against the rest of the input and
// the value must fill it exactly; UnknownLength and 0 (written by
// gateways that do not measure) mean the value is read up to its own end.
// Bytes after the last message are an error. Errors are *amf.DecodeError
// values with the offset in b, wrapping the amf sentinels (ErrTruncated,
// ErrTooLarge, ErrMalformed, ...).
func (p *Packet) Unmarshal(b []byte, lim Limits) error {
	lim = lim.resolved()
	p.Version = 0
	p.Headers = p.Headers[:0]
	p.Messages = p.Messages[:0]
	d := decoder{b: b, dec: amf.Decoder{Limits: lim.Value}}
	if len(b) > lim.MaxBytes {
		return d.errf(0, amf.ErrTooLarge, "remoting: packet of %d bytes exceeds limit %d", len(b), lim.MaxBytes)
	}
	var ok bool
	if p.Version, ok = d.u16(); !ok {
		return d.truncated("version")
	}
	count, err := d.count("header", minHeader)
	if err != nil {
		return err
	}
	p.Headers = slices.Grow(p.Headers, count)
	for i := range count {
		var h Header
		if h.Name, ok = d.str(); !ok {
			return d.truncated(fmt.Sprintf("header %d name", i))
		}
		flag, ok := d.u8()
		if !ok {
			return d.truncated(fmt.Sprintf("header %q flag", h.Name))
		}
		h.MustUnderstand = flag != 0
		if h.Value, err = d.value(fmt.Sprintf("header %q", h.Name)); err != nil {
			return err
		}
		p.Headers = append(p.Headers, h)
	}
	if count, err = d.count("message", minMessage); err != nil {
		return err
	}
	p.Messages = slices.Grow(p.Messages, count)
	for i := range count {
		var m Message
		if m.Target, ok = d.str(); !ok {
			return d.truncated(fmt.Sprintf("message %d target", i))
		}
		if m.Response, ok = d.str(); !ok {
			return d.truncated(fmt.Sprintf("message %q response", m.Target))
		}
		if m.Value, err = d.value(fmt.Sprintf("message %q", m.Target)); err != nil {
			return err
		}
		p.Messages = append(p.Messages, m)
	}
	if d.pos != len(b) {
		return d.errf(d.pos, amf.ErrMalformed, "remoting: %d bytes after the last message", len(b)-d.pos)
	}
	return nil
}

type decoder struct {
	b   []byte
	pos int
	dec amf.Decoder
}

func (d *decoder) errf(off int, sentinel error, format string, args ...any) error {
	return &amf.DecodeError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

func (d *decoder) truncated(what string) error {
	return d.errf(d.pos, amf.ErrTruncated, "remoting: input ends in %s", what)
}

func (d *decoder) u8() (byte, bool) {
	if len(d.b)-d.pos < 1 {
		return 0, false
	}
	d.pos++
	return d.b[d.pos-1], true
}

func (d *decoder) u16() (uint16, bool) {
	if len(d.b)-d.pos < 2 {
		return 0, false
	}
	d.pos += 2
	return binary.BigEndian.Uint16(d.b[d.pos-2:]), true
}

func (d *decoder) u32() (uint32, bool) {
	if len(d.b)-d.pos < 4 {
		return 0, false
	}
	d.pos += 4
	return binary.BigEndian.Uint32(d.b[d.pos-4:]), true
}

func (d *decoder) str() (string, bool) {
	n, ok := d.u16()
	if !ok || len(d.b)-d.pos < int(n) {
		return "", false
	}
	d.pos += int(n)
	return string(d.b[d.pos-int(n) : d.pos]), true
}

// count reads a header or message count and checks that the input can hold
// that many of the smallest such items.
func (d *decoder) count(what string, minSize int) (int, error) {
	at := d.pos
	n, ok := d.u16()
	if !ok {
		return 0, d.truncated(what + " count")
	}
	if rest := len(d.b) - d.pos; int(n)*minSize > rest {
		return 0, d.errf(at, amf.ErrTruncated, "remoting: %d %ss declared, %d bytes left", n, what, rest)
	}
	return int(n), nil
}

// value reads a declared length and the value it announces.
func (d *decoder) value(what string) (amf.Value, error) {
	at := d.pos
	n, ok := d.u32()
	if !ok {
		return amf.Value{}, d.truncated(what + " length")
	}
	start := d.pos
	in := d.b[start:]
	known := n != UnknownLength && n != 0
	if known {
		if uint64(n) > uint64(len(in)) {
			return amf.Value{}, d.errf(at, amf.ErrTruncated, "remoting: %s declares %d bytes, %d left", what, n, len(in))
		}
		in = in[:n]
	}
	v, used, err := d.dec.DecodeAMF0(in)
	if err != nil {
		if de, ok := errors.AsType[*amf.DecodeError](err); ok {
			return amf.Value{}, d.errf(start+de.Offset, de.Err, "remoting: %s: %s", what, de.Msg)
		}
		return amf.Value{}, fmt.Errorf("remoting: %s: %w", what, err)
	}
	if known && used != int(n) {
		return amf.Value{}, d.errf(start+used, amf.ErrMalformed, "remoting: %s declares %d bytes, its value has %d", what, n, used)
	}
	d.pos = start + used
	return v, nil
}
