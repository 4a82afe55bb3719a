package mp3

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// TextFrame is one decoded ID3 text property for onId3 (docs/flv.md#onid3).
type TextFrame struct {
	ID    string // ID3v2 frame id (TIT2, TPE1, ...)
	Value string // UTF-8
}

// id3Alias maps frame ids to the Flash Sound.id3 names.
var id3Alias = map[string]string{
	"TIT2": "songName", "TPE1": "artist", "TALB": "album", "TYER": "year", "TDRC": "year",
	"TRCK": "track", "TCON": "genre", "COMM": "comment",
}

// Alias returns the Flash Sound.id3 name of a frame id, or "".
func Alias(id string) string { return id3Alias[id] }

// MaxID3Text caps the decoded text of one tag (docs/flv.md#onid3, 64 KiB).
const MaxID3Text = 64 << 10

// ParseID3v2 decodes the text frames (T***, COMM) of a whole ID3v2.2/3/4
// tag (header included). Binary frames are skipped; the total text is
// capped at MaxID3Text. Unsynchronisation and compressed frames are not
// decoded (their frames are skipped).
func ParseID3v2(tag []byte) []TextFrame {
	if ID3v2Size(tag) == 0 {
		return nil
	}
	ver := tag[3]
	flags := tag[5]
	end := min(ID3v2Size(tag), len(tag))
	if flags&0x10 != 0 {
		end -= 10
	}
	off := 10
	if flags&0x40 != 0 && off+4 <= end && ver >= 3 { // extended header
		n := int(binary.BigEndian.Uint32(tag[off:]))
		if ver == 4 {
			n = syncsafe(tag[off:])
		} else {
			n += 4
		}
		off += n
	}
	idLen, hdrLen := 4, 10
	if ver == 2 {
		idLen, hdrLen = 3, 6
	}
	var out []TextFrame
	total := 0
	for off+hdrLen <= end && off >= 0 {
		id := string(tag[off : off+idLen])
		if tag[off] == 0 {
			break // padding
		}
		var size int
		var fflags uint16
		switch ver {
		case 2:
			size = int(tag[off+3])<<16 | int(tag[off+4])<<8 | int(tag[off+5])
		case 4:
			size = syncsafe(tag[off+4:])
			fflags = binary.BigEndian.Uint16(tag[off+8:])
		default:
			size = int(binary.BigEndian.Uint32(tag[off+4:]))
			fflags = binary.BigEndian.Uint16(tag[off+8:])
		}
		body := off + hdrLen
		if size < 0 || body+size > end {
			break
		}
		data := tag[body : body+size]
		off = body + size
		if fflags&0x00ff != 0 && ver >= 3 {
			continue // compressed, encrypted or grouped: not plain text
		}
		if ver == 2 {
			id = v22ToV23(id)
		}
		var text string
		switch {
		case id == "COMM":
			// encoding, 3-byte language, description NUL, text.
			if len(data) < 4 {
				continue
			}
			parts := splitText(data[0], data[4:])
			if len(parts) < 2 {
				continue
			}
			text = parts[1]
		case strings.HasPrefix(id, "T") && id != "TXXX":
			if len(data) < 1 {
				continue
			}
			text = strings.Join(splitText(data[0], data[1:]), "/")
		default:
			continue
		}
		if total+len(text) > MaxID3Text {
			break
		}
		total += len(text)
		out = append(out, TextFrame{ID: id, Value: text})
	}
	return out
}

func syncsafe(b []byte) int {
	return int(b[0]&0x7f)<<21 | int(b[1]&0x7f)<<14 | int(b[2]&0x7f)<<7 | int(b[3]&0x7f)
}

func v22ToV23(id string) string {
	switch id {
	case "TT2":
		return "TIT2"
	case "TP1":
		return "TPE1"
	case "TAL":
		return "TALB"
	case "TYE":
		return "TYER"
	case "TRK":
		return "TRCK"
	case "TCO":
		return "TCON"
	case "COM":
		return "COMM"
	}
	return id
}

// splitText decodes ID3 text in encoding enc (0 ISO-8859-1, 1 UTF-16 with
// BOM, 2 UTF-16BE, 3 UTF-8) into its NUL-separated strings.
func splitText(enc byte, b []byte) []string {
	var s string
	switch enc {
	case 0:
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		s = sb.String()
	case 1, 2:
		big := enc == 2
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			c := uint16(b[i])<<8 | uint16(b[i+1])
			if !big {
				c = uint16(b[i+1])<<8 | uint16(b[i])
			}
			switch c {
			case 0xfeff:
				if enc == 1 {
					continue
				}
			case 0xfffe:
				if enc == 1 {
					big = !big
					continue
				}
			}
			u = append(u, c)
		}
		s = string(utf16.Decode(u))
	default:
		s = strings.ToValidUTF8(string(b), string(utf8.RuneError))
	}
	parts := strings.Split(s, "\x00")
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// ParseID3v1 decodes a 128-byte ID3v1 tag ("TAG" ...) into text frames.
func ParseID3v1(b []byte) []TextFrame {
	if len(b) < 128 || string(b[:3]) != "TAG" {
		return nil
	}
	field := func(id string, p []byte) TextFrame {
		s := strings.TrimRight(splitText(0, p)[0], " ")
		return TextFrame{ID: id, Value: s}
	}
	out := []TextFrame{
		field("TIT2", b[3:33]), field("TPE1", b[33:63]), field("TALB", b[63:93]),
		field("TYER", b[93:97]), field("COMM", b[97:127]),
	}
	if b[125] == 0 && b[126] != 0 {
		out[4] = field("COMM", b[97:125])
		out = append(out, TextFrame{ID: "TRCK", Value: itoa(int(b[126]))})
	}
	keep := out[:0]
	for _, f := range out {
		if f.Value != "" {
			keep = append(keep, f)
		}
	}
	return keep
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [4]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
