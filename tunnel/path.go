package tunnel

import (
	"errors"
	"strings"
)

// Kind is the command of a tunnel request, from the first path segment
// (docs/rtmpt.md#requests).
type Kind uint8

// Request kinds.
const (
	KindIdent Kind = iota + 1 // POST /fcs/ident2 or /fcs/ident: probe, answered 404
	KindOpen                  // POST /open/1: new session
	KindSend                  // POST /send/<id>/<seq>: client bytes, and poll
	KindIdle                  // POST /idle/<id>/<seq>: poll only
	KindClose                 // POST /close/<id>/<seq>: end the session
)

// String names the kind as in the request path ("send", "idle", ...).
func (k Kind) String() string {
	switch k {
	case KindIdent:
		return "ident"
	case KindOpen:
		return "open"
	case KindSend:
		return "send"
	case KindIdle:
		return "idle"
	case KindClose:
		return "close"
	}
	return "unknown"
}

// Path limits. A session id is at most 63 bytes because ffmpeg reads it
// into a 64-byte buffer (docs/rtmpt.md#response-bodies-and-the-polling-byte); a sequence number is a uint64 in
// decimal.
const (
	maxIDLen  = 63
	maxSeqLen = 20
)

var (
	// ErrNotTunnel: the path is outside the tunnel's namespace (/fcs/,
	// /open/, /send/, /idle/, /close/); another route may serve it.
	ErrNotTunnel = errors.New("tunnel: not a tunnel path")
	// ErrBadPath: the path is in the tunnel's namespace but malformed
	// (answered 400).
	ErrBadPath = errors.New("tunnel: malformed path")
)

// Request is a parsed tunnel request path.
type Request struct {
	Kind Kind
	// ID is the session id of send, idle and close. It aliases the parsed
	// path.
	ID string
	// Seq is the sequence number of send, idle and close (docs/rtmpt.md#sessions-and-sequence-numbers).
	Seq uint64
}

// ParsePath parses the path of a tunnel request (without query). It returns
// ErrNotTunnel for paths another handler may own and an error wrapping
// ErrBadPath for malformed tunnel paths. It does not allocate on success.
func ParsePath(path string) (Request, error) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return Request{}, ErrNotTunnel
	}
	head, rest, _ := strings.Cut(rest, "/")
	switch head {
	case "fcs":
		if rest == "ident2" || rest == "ident" {
			return Request{Kind: KindIdent}, nil
		}
		return Request{}, badPath("unknown /fcs/ probe")
	case "open":
		if rest == "1" {
			return Request{Kind: KindOpen}, nil
		}
		return Request{}, badPath("/open/ wants the literal 1")
	case "send":
		return parseSession(KindSend, rest)
	case "idle":
		return parseSession(KindIdle, rest)
	case "close":
		return parseSession(KindClose, rest)
	}
	return Request{}, ErrNotTunnel
}

// parseSession parses "<id>/<seq>".
func parseSession(k Kind, s string) (Request, error) {
	id, seq, ok := strings.Cut(s, "/")
	if !ok {
		return Request{}, badPath(k.String() + ": want /<id>/<seq>")
	}
	if id == "" || len(id) > maxIDLen {
		return Request{}, badPath(k.String() + ": session id empty or longer than 63 bytes")
	}
	for i := 0; i < len(id); i++ {
		if !isIDChar(id[i]) {
			return Request{}, badPath(k.String() + ": session id has a character outside [0-9A-Za-z._~-]")
		}
	}
	if seq == "" || len(seq) > maxSeqLen {
		return Request{}, badPath(k.String() + ": sequence number empty or too long")
	}
	var n uint64
	for i := 0; i < len(seq); i++ {
		c := seq[i]
		if c < '0' || c > '9' {
			return Request{}, badPath(k.String() + ": sequence number is not decimal")
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return Request{}, badPath(k.String() + ": sequence number overflows 64 bits")
		}
		n = n*10 + d
	}
	return Request{Kind: k, ID: id, Seq: n}, nil
}

// isIDChar reports URL-unreserved characters (RFC 3986 docs/rtmpt.md#requests): other
// servers' ids (FMS decimal, Red5 upper-case) are accepted by the parser
// and then simply not found.
func isIDChar(b byte) bool {
	return isAlnum(b) || b == '-' || b == '.' || b == '_' || b == '~'
}

// pathError is a malformed path; it matches ErrBadPath.
type pathError struct{ msg string }

func (e *pathError) Error() string        { return "tunnel: malformed path: " + e.msg }
func (e *pathError) Is(target error) bool { return target == ErrBadPath }

func badPath(msg string) error { return &pathError{msg: msg} }
