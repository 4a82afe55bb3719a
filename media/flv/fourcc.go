package flv

// FourCC is an E-RTMP codec identifier: four ASCII bytes packed big-endian,
// exactly as they appear on the wire (docs/rtmp.md#enhanced-rtmp). onMetaData may carry the
// same value as a number (videocodecid 1635135537 = "av01").
type FourCC uint32

// FourCC values named by E-RTMP (docs/rtmp.md#enhanced-rtmp).
const (
	FourCCAVC  FourCC = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1' // "avc1" H.264
	FourCCHEVC FourCC = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1' // "hvc1" H.265
	FourCCAV1  FourCC = 'a'<<24 | 'v'<<16 | '0'<<8 | '1' // "av01"
	FourCCVP9  FourCC = 'v'<<24 | 'p'<<16 | '0'<<8 | '9' // "vp09"
	FourCCVP8  FourCC = 'v'<<24 | 'p'<<16 | '0'<<8 | '8' // "vp08"
	FourCCVVC  FourCC = 'v'<<24 | 'v'<<16 | 'c'<<8 | '1' // "vvc1" H.266
	FourCCOpus FourCC = 'O'<<24 | 'p'<<16 | 'u'<<8 | 's' // "Opus"
	FourCCFLAC FourCC = 'f'<<24 | 'L'<<16 | 'a'<<8 | 'C' // "fLaC"
	FourCCAC3  FourCC = 'a'<<24 | 'c'<<16 | '-'<<8 | '3' // "ac-3"
	FourCCEAC3 FourCC = 'e'<<24 | 'c'<<16 | '-'<<8 | '3' // "ec-3"
	FourCCMP3  FourCC = '.'<<24 | 'm'<<16 | 'p'<<8 | '3' // ".mp3"
	FourCCAAC  FourCC = 'm'<<24 | 'p'<<16 | '4'<<8 | 'a' // "mp4a"
)

// ParseFourCC reads a FourCC from the first four bytes of b. It reports false
// when b is shorter than four bytes. Any byte values are accepted: unknown
// codecs pass through.
func ParseFourCC(b []byte) (FourCC, bool) {
	if len(b) < 4 {
		return 0, false
	}
	return FourCC(b[0])<<24 | FourCC(b[1])<<16 | FourCC(b[2])<<8 | FourCC(b[3]), true
}

// String returns the four characters, with non-printable bytes as '?', so a
// hostile value cannot inject control characters into a log line.
func (f FourCC) String() string {
	var b [4]byte
	for i := range b {
		c := byte(f >> (24 - 8*i))
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b[i] = c
	}
	return string(b[:])
}
