package webrtc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/openfcs/openfcs/instance"
)

// URL prefixes (docs/webrtc.md#whip-and-whep).
const (
	whipPrefix = "/whip/"
	whepPrefix = "/whep/"
	// SessionPrefix is where the session resources live: the Location
	// of a 201 is SessionPrefix + id, which PATCH (trickle) and DELETE
	// address.
	SessionPrefix = "/webrtc/session/"
)

// target is the stream a WHIP or WHEP URL names.
type target struct{ App, Instance, Stream string }

// parseTarget reads <app>/<stream> (instance _definst_) or
// <app>/<instance...>/<stream>, with the naming rules of RTMP URLs: no
// empty segment, no "..", no backslash or colon.
func parseTarget(rest string) (target, bool) {
	segs := strings.Split(rest, "/")
	if len(segs) < 2 {
		return target{}, false
	}
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "\\:\x00") {
			return target{}, false
		}
	}
	t := target{App: segs[0], Instance: "_definst_", Stream: segs[len(segs)-1]}
	if len(segs) > 2 {
		t.Instance = strings.Join(segs[1:len(segs)-1], "/")
	}
	return t, true
}

// httpError is a refusal: the status and the reason, which is the body
// and the log line's reason.
type httpError struct {
	status int
	reason string
}

func (e *httpError) Error() string { return e.reason }

func refuse(status int, reason string) *httpError { return &httpError{status, reason} }

// serveHTTP dispatches a request under one of the prefixes.
func (s *Server) serveHTTP(c *fiber.Ctx, path string) {
	c.Set("Access-Control-Allow-Origin", "*")
	c.Set("Access-Control-Expose-Headers", "Location, Link")
	if c.Method() == fiber.MethodOptions {
		c.Set("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS")
		c.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		c.Set("Accept-Post", "application/sdp")
		c.Status(http.StatusNoContent)
		return
	}
	var err *httpError
	switch {
	case strings.HasPrefix(path, SessionPrefix):
		err = s.serveResource(c, strings.TrimPrefix(path, SessionPrefix))
	case c.Method() != fiber.MethodPost:
		c.Set("Allow", "POST, OPTIONS")
		err = refuse(http.StatusMethodNotAllowed, "POST an SDP offer")
	default:
		kind, rest := "whip", strings.TrimPrefix(path, whipPrefix)
		if r, ok := strings.CutPrefix(path, whepPrefix); ok {
			kind, rest = "whep", r
		}
		err = s.serveOffer(c, kind, rest)
	}
	if err != nil {
		s.refused.Add(1)
		if err.status == http.StatusUnauthorized {
			c.Set("WWW-Authenticate", `Bearer realm="openfcs"`)
		}
		s.log.Info("webrtc refused", "method", c.Method(), "path", path, "remote", c.Context().RemoteAddr().String(),
			"status", err.status, "reason", err.reason)
		c.Status(err.status)
		c.Set("Content-Type", "text/plain; charset=utf-8")
		_ = c.SendString(err.reason + "\n")
	}
}

// body returns the request body after checking its declared and actual
// size against MaxSDPSize (fasthttp has read it, bounded by the HTTP
// server's own body limit).
func (s *Server) body(c *fiber.Ctx) ([]byte, *httpError) {
	if n := c.Request().Header.ContentLength(); n > s.cfg.MaxSDPSize {
		return nil, refuse(http.StatusRequestEntityTooLarge, "body over webrtc.max_sdp_size")
	}
	b := c.Body()
	if len(b) > s.cfg.MaxSDPSize {
		return nil, refuse(http.StatusRequestEntityTooLarge, "body over webrtc.max_sdp_size")
	}
	return b, nil
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(c *fiber.Ctx) string {
	h := c.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.Clone(strings.TrimSpace(h[7:]))
	}
	return ""
}

// serveOffer answers POST /whip/... and /whep/...: checks, admission by
// the application, negotiation, 201 with the answer.
func (s *Server) serveOffer(c *fiber.Ctx, kind, rest string) *httpError {
	if ct := c.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		return refuse(http.StatusUnsupportedMediaType, "the offer must be application/sdp")
	}
	body, herr := s.body(c)
	if herr != nil {
		return herr
	}
	token := bearer(c)
	need := *s.cfg.WHIPToken
	if kind == "whep" {
		need = *s.cfg.WHEPToken
	}
	if need && token == "" {
		return refuse(http.StatusUnauthorized, "a bearer token is required")
	}
	t, ok := parseTarget(rest)
	if !ok {
		return refuse(http.StatusNotFound, "the URL names no stream: /"+kind+"/<app>[/<instance>]/<stream>")
	}
	// The offer is checked before the application hears of the session:
	// a malformed one never reaches the script.
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(string(body)); err != nil {
		return refuse(http.StatusBadRequest, "malformed SDP: "+err.Error())
	}
	if len(parsed.MediaDescriptions) == 0 {
		return refuse(http.StatusBadRequest, "the offer has no media")
	}
	ss, herr := s.newSession(kind, t, c, token)
	if herr != nil {
		return herr
	}
	answer, herr := ss.open(string(body))
	if herr != nil {
		ss.abort()
		return herr
	}
	c.Set("Location", SessionPrefix+ss.id)
	c.Set("Content-Type", "application/sdp")
	c.Status(http.StatusCreated)
	_ = c.SendString(answer)
	return nil
}

// serveResource answers PATCH (trickle ICE) and DELETE on a session.
func (s *Server) serveResource(c *fiber.Ctx, id string) *httpError {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		return refuse(http.StatusNotFound, "no such session")
	}
	switch c.Method() {
	case fiber.MethodDelete:
		ss.end(reasonDeleted)
		c.Status(http.StatusOK)
		return nil
	case fiber.MethodPatch:
		if ct := c.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/trickle-ice-sdpfrag") {
			return refuse(http.StatusUnsupportedMediaType, "PATCH takes application/trickle-ice-sdpfrag")
		}
		body, herr := s.body(c)
		if herr != nil {
			return herr
		}
		if herr := ss.trickle(string(body)); herr != nil {
			return herr
		}
		c.Status(http.StatusNoContent)
		return nil
	}
	c.Set("Allow", "PATCH, DELETE, OPTIONS")
	return refuse(http.StatusMethodNotAllowed, "a session takes PATCH and DELETE")
}

// trickle adds the candidates of an SDP fragment (RFC 8840): its
// a=candidate lines, for the first media section (one BUNDLE group).
// An ICE restart (new credentials) is not supported.
func (ss *session) trickle(frag string) *httpError {
	n := 0
	for line := range strings.Lines(frag) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "a=candidate:"):
			idx := uint16(0)
			if err := ss.pc.AddICECandidate(pion.ICECandidateInit{Candidate: line[2:], SDPMLineIndex: &idx}); err != nil {
				return refuse(http.StatusBadRequest, "bad candidate: "+err.Error())
			}
			n++
		case strings.HasPrefix(line, "a=ice-pwd:"):
			if ss.pc.RemoteDescription() != nil && !strings.Contains(ss.pc.RemoteDescription().SDP, line) {
				return refuse(http.StatusUnprocessableEntity, "ICE restart is not supported: open a new session")
			}
		}
	}
	ss.log.Debug("webrtc trickle", "candidates", n)
	return nil
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// admitError maps an engine error of Connect to a refusal.
func admitError(err error) *httpError {
	switch {
	case errors.Is(err, instance.ErrInvalidApp):
		return refuse(http.StatusNotFound, "no such application")
	case errors.Is(err, instance.ErrShutdown):
		return refuse(http.StatusServiceUnavailable, "server shutting down")
	case errors.Is(err, instance.ErrScript):
		return refuse(http.StatusForbidden, "application script error")
	}
	return refuse(http.StatusBadRequest, err.Error())
}
