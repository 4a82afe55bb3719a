package rtph264

// AppendPayloads appends the RTP payloads carrying one NAL unit to dst
// (RFC 6184 packetization mode 1): the unit itself when it fits in mtu
// bytes, FU-A fragments otherwise. Each payload is a new slice; nal is not
// retained. mtu below 3 is treated as 3 (an FU-A carries at least one byte).
func AppendPayloads(dst [][]byte, nal []byte, mtu int) [][]byte {
	if len(nal) == 0 {
		return dst
	}
	if len(nal) <= mtu {
		return append(dst, append([]byte(nil), nal...))
	}
	mtu = max(mtu, 3)
	ind := nal[0]&0xe0 | NALFUA
	typ := nal[0] & 0x1f
	body := nal[1:]
	for first := true; len(body) > 0; first = false {
		n := min(len(body), mtu-2)
		hdr := typ
		if first {
			hdr |= 0x80
		}
		if n == len(body) {
			hdr |= 0x40
		}
		p := make([]byte, 0, 2+n)
		p = append(p, ind, hdr)
		p = append(p, body[:n]...)
		dst = append(dst, p)
		body = body[n:]
	}
	return dst
}
