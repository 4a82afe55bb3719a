package amf

// Default limits (docs/amf.md#limits). Each guards against input that is cheap to send
// and expensive to hold.
const (
	// DefaultMaxDepth bounds nesting of objects, arrays, vectors and
	// dictionaries, and so the decoder's recursion.
	DefaultMaxDepth = 64
	// DefaultMaxRefs bounds each reference table (AMF0 complex objects, AMF3
	// strings, objects and traits) of one body.
	DefaultMaxRefs = 1_000_000
	// DefaultMaxStringLen bounds one string, XML text or ByteArray (docs/amf.md
	// MaxValueBytes, 1 MiB).
	DefaultMaxStringLen = 1 << 20
	// DefaultMaxElems bounds the total number of values decoded from one body,
	// elements and properties included (docs/amf.md MaxValues).
	DefaultMaxElems = 1_000_000
	// DefaultMaxBytes bounds the size of one body handed to the decoder,
	// and what one encode call writes; it equals the default RTMP maximum
	// message size.
	DefaultMaxBytes = 16 << 20
	// DefaultMaxExpand bounds the nodes written by a conversion that cannot
	// use references (AMF0 encoding without ShareRepeats).
	DefaultMaxExpand = 100_000
)

// Limits bounds what a Decoder accepts and what an Encoder expands. A zero
// field means its default (the Default* constants); a negative field means
// no limit (not advisable for untrusted input).
type Limits struct {
	MaxDepth     int `yaml:"max_depth"`      // nesting depth; default 64
	MaxRefs      int `yaml:"max_refs"`       // entries per reference table; default 1 000 000
	MaxStringLen int `yaml:"max_string_len"` // bytes per string, XML text or ByteArray; default 1 MiB
	MaxElems     int `yaml:"max_elems"`      // values per body (MaxValues in docs/amf.md); default 1 000 000
	MaxBytes     int `yaml:"max_bytes"`      // bytes of input per decode call, of output per encode call; default 16 MiB
	MaxExpand    int `yaml:"max_expand"`     // complex nodes written without references; default 100 000
}

// WithDefaults returns l with every zero field set to its default; negative
// fields (no limit) are kept as they are.
func (l Limits) WithDefaults() Limits {
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	return Limits{
		MaxDepth:     def(l.MaxDepth, DefaultMaxDepth),
		MaxRefs:      def(l.MaxRefs, DefaultMaxRefs),
		MaxStringLen: def(l.MaxStringLen, DefaultMaxStringLen),
		MaxElems:     def(l.MaxElems, DefaultMaxElems),
		MaxBytes:     def(l.MaxBytes, DefaultMaxBytes),
		MaxExpand:    def(l.MaxExpand, DefaultMaxExpand),
	}
}

const unlimited = int(^uint(0) >> 1)

func pick(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return unlimited
	}
	return v
}

// resolved returns l with defaults applied.
func (l Limits) resolved() Limits {
	return Limits{
		MaxDepth:     pick(l.MaxDepth, DefaultMaxDepth),
		MaxRefs:      pick(l.MaxRefs, DefaultMaxRefs),
		MaxStringLen: pick(l.MaxStringLen, DefaultMaxStringLen),
		MaxElems:     pick(l.MaxElems, DefaultMaxElems),
		MaxBytes:     pick(l.MaxBytes, DefaultMaxBytes),
		MaxExpand:    pick(l.MaxExpand, DefaultMaxExpand),
	}
}
