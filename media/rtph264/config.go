package rtph264

import (
	"encoding/binary"
	"fmt"
)

// Config is an AVCDecoderConfigurationRecord (ISO/IEC 14496-15, the AVC
// configuration box), the body of an FLV AVC sequence header after its
// five-byte tag header: the parameter sets a decoder needs before the first
// frame.
type Config struct {
	Profile, Compat, Level uint8
	LengthSize             int // NAL length prefix size of the frames, 1, 2 or 4
	SPS, PPS               [][]byte
}

// maxParamSets bounds the parameter sets of one record: the format allows
// 31 SPS and 255 PPS, encoders send one of each.
const maxParamSets = 32

// ParseConfig decodes a configuration record. SPS and PPS alias b. Bytes
// after the PPS (the high-profile extension) are ignored.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if len(b) < 6 {
		return c, fmt.Errorf("%w: configuration record of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != 1 {
		return c, fmt.Errorf("%w: configuration version %d", ErrMalformed, b[0])
	}
	c.Profile, c.Compat, c.Level = b[1], b[2], b[3]
	c.LengthSize = int(b[4]&3) + 1
	if c.LengthSize == 3 {
		return c, fmt.Errorf("%w: NAL length size 3", ErrMalformed)
	}
	off := 5
	var err error
	if c.SPS, off, err = paramSets(b, off, 0x1f, "SPS"); err != nil {
		return c, err
	}
	if c.PPS, _, err = paramSets(b, off, 0xff, "PPS"); err != nil {
		return c, err
	}
	return c, nil
}

// paramSets reads a count byte (masked) at off and that many 16-bit
// length-prefixed sets.
func paramSets(b []byte, off int, mask byte, what string) ([][]byte, int, error) {
	if off >= len(b) {
		return nil, off, fmt.Errorf("%w: no %s count at offset %d", ErrMalformed, what, off)
	}
	count := int(b[off] & mask)
	off++
	if count > maxParamSets {
		return nil, off, fmt.Errorf("%w: %d %s", ErrTooLarge, count, what)
	}
	out := make([][]byte, 0, count)
	for range count {
		if len(b)-off < 2 {
			return nil, off, fmt.Errorf("%w: %s length at offset %d", ErrMalformed, what, off)
		}
		l := int(binary.BigEndian.Uint16(b[off:]))
		off += 2
		if l == 0 || l > len(b)-off {
			return nil, off, fmt.Errorf("%w: %s of %d bytes at offset %d", ErrMalformed, what, l, off)
		}
		out = append(out, b[off:off+l])
		off += l
	}
	return out, off, nil
}

// AppendConfig appends the configuration record for one or more SPS and PPS
// (4-byte NAL lengths) to dst. Profile, compatibility and level are taken
// from the first SPS, as the record requires.
func AppendConfig(dst []byte, sps, pps [][]byte) ([]byte, error) {
	if len(sps) == 0 || len(sps[0]) < 4 || len(pps) == 0 {
		return dst, fmt.Errorf("%w: a configuration needs an SPS of 4 bytes or more and a PPS", ErrMalformed)
	}
	if len(sps) > maxParamSets || len(pps) > maxParamSets {
		return dst, fmt.Errorf("%w: %d SPS, %d PPS", ErrTooLarge, len(sps), len(pps))
	}
	dst = append(dst, 1, sps[0][1], sps[0][2], sps[0][3], 0xfc|3, 0xe0|byte(len(sps)))
	for _, s := range sps {
		if len(s) > 0xffff {
			return dst, fmt.Errorf("%w: SPS of %d bytes", ErrTooLarge, len(s))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
		dst = append(dst, s...)
	}
	dst = append(dst, byte(len(pps)))
	for _, p := range pps {
		if len(p) > 0xffff {
			return dst, fmt.Errorf("%w: PPS of %d bytes", ErrTooLarge, len(p))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p)))
		dst = append(dst, p...)
	}
	return dst, nil
}
