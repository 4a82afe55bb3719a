package instance

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/openfcs/openfcs/status"
)

// Access control without scripting (docs/operations.md#access-control):
// the access section of application.yaml admits clients by address, asks
// publishers and players for a key or a signed token, and may ask an HTTP
// hook. The checks run before the application script sees the client or
// the stream, for every transport; the script still runs after them.

// ErrAccessDenied means the application's access section refused a
// client (NetConnection.Connect.Rejected, or the publish's or play's
// failure status). Errors wrapping it are *AccessError.
var ErrAccessDenied = errors.New("instance: access denied")

// AccessError is a refusal with the description the client is sent.
type AccessError struct {
	Code        string // status code for the client
	Description string
}

func (e *AccessError) Error() string { return "access denied: " + e.Description }

// Unwrap makes the error match ErrAccessDenied.
func (e *AccessError) Unwrap() error { return ErrAccessDenied }

// AccessConfig is the access section of application.yaml. A zero value
// checks nothing.
type AccessConfig struct {
	// Allow lists the client address ranges admitted (CIDR such as
	// "10.0.0.0/8", or one address); empty: every address. Deny lists
	// ranges refused, and wins over Allow. Checked at connect.
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	// PublishKeys and PlayKeys: when not empty, publishing (playing) needs
	// one of these keys as key=<key> in the stream name's query
	// ("cam?key=k1", what ffmpeg and OBS send) or in the connect URL's
	// ("rtmp://host/live?key=k1"). With JWT on for the action too, either
	// admits.
	PublishKeys []string `yaml:"publish_keys"`
	PlayKeys    []string `yaml:"play_keys"`
	// JWT admits publishers and players that carry a signed, expiring
	// token as token=<jwt>, in the same places as keys.
	JWT JWTConfig `yaml:"jwt"`
	// Hook asks an HTTP endpoint about connects, publishes and plays.
	Hook HookConfig `yaml:"hook"`

	allow, deny []netip.Prefix
}

// JWTConfig configures token checks (HS256, RFC 7519).
type JWTConfig struct {
	// Secret is the HMAC-SHA256 key tokens are signed with; required
	// when Publish or Play is on. At least 32 bytes.
	Secret string `yaml:"secret"`
	// Publish and Play turn the check on for publishing and for
	// playing.
	Publish bool `yaml:"publish"`
	Play    bool `yaml:"play"`
}

// HookConfig configures the HTTP hook.
type HookConfig struct {
	// URL receives a POST with a JSON body for each event; a 2xx answer
	// allows, anything else (or no answer within Timeout) refuses. ""
	// disables the hook.
	URL string `yaml:"url"`
	// Timeout bounds each request. Default 5s.
	Timeout time.Duration `yaml:"timeout"`
	// Events are the actions posted: connect, publish, play, unpublish
	// (a notice: its answer is not used). Default all four.
	Events []string `yaml:"events"`
}

// Hook events.
const (
	HookConnect   = "connect"
	HookPublish   = "publish"
	HookPlay      = "play"
	HookUnpublish = "unpublish"
)

// minJWTSecret is the shortest HS256 key accepted: shorter keys are
// guessable offline from one token.
const minJWTSecret = 32

// parseAccess decodes and checks the access section.
func parseAccess(n *yaml.Node) (AccessConfig, error) {
	var a AccessConfig
	out, err := yaml.Marshal(n)
	if err != nil {
		return a, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true) // a misspelled key must not leave the application open
	if err := dec.Decode(&a); err != nil {
		return a, err
	}
	// Empty lists are absent lists: one value for "none".
	for _, l := range []*[]string{&a.Allow, &a.Deny, &a.PublishKeys, &a.PlayKeys, &a.Hook.Events} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	for _, r := range a.Allow {
		p, err := parsePrefix(r)
		if err != nil {
			return a, fmt.Errorf("allow: %w", err)
		}
		a.allow = append(a.allow, p)
	}
	for _, r := range a.Deny {
		p, err := parsePrefix(r)
		if err != nil {
			return a, fmt.Errorf("deny: %w", err)
		}
		a.deny = append(a.deny, p)
	}
	if (a.JWT.Publish || a.JWT.Play) && len(a.JWT.Secret) < minJWTSecret {
		return a, fmt.Errorf("jwt.secret: want at least %d bytes", minJWTSecret)
	}
	if a.Hook.URL != "" {
		u, err := url.Parse(a.Hook.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return a, fmt.Errorf("hook.url %q: want an http or https URL", a.Hook.URL)
		}
		if a.Hook.Timeout < 0 {
			return a, errors.New("hook.timeout: negative")
		}
		for _, e := range a.Hook.Events {
			switch e {
			case HookConnect, HookPublish, HookPlay, HookUnpublish:
			default:
				return a, fmt.Errorf("hook.events: %q: want connect, publish, play or unpublish", e)
			}
		}
	}
	return a, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// hookOn reports whether the hook posts event.
func (a *AccessConfig) hookOn(event string) bool {
	return a.Hook.URL != "" && (len(a.Hook.Events) == 0 || slices.Contains(a.Hook.Events, event))
}

// addressAllowed applies Allow and Deny to ip.
func (a *AccessConfig) addressAllowed(ip string) bool {
	if len(a.allow) == 0 && len(a.deny) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false // an address we cannot read is not in an allowed range
	}
	addr = addr.Unmap()
	for _, p := range a.deny {
		if p.Contains(addr) {
			return false
		}
	}
	if len(a.allow) == 0 {
		return true
	}
	for _, p := range a.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// HookRequest is the JSON body the hook receives.
type HookRequest struct {
	Action   string `json:"action"` // connect, publish, play, unpublish
	App      string `json:"app"`
	Instance string `json:"instance"`
	Stream   string `json:"stream,omitempty"`
	// Query is the stream name's query string ("key=..." of "cam?key=...").
	Query string `json:"query,omitempty"`
	// ConnectQuery is the connect URL's query string.
	ConnectQuery string `json:"connect_query,omitempty"`
	ClientIP     string `json:"client_ip"`
	ClientID     uint64 `json:"client_id,omitempty"`
	Protocol     string `json:"protocol"`
	Agent        string `json:"agent,omitempty"`
	PageURL      string `json:"page_url,omitempty"`
	TcURL        string `json:"tc_url,omitempty"`
}

// maxHookAnswer bounds what is read of a hook's answer (it is discarded).
const maxHookAnswer = 64 << 10

// callHook posts req and returns nil for a 2xx answer.
func (m *Manager) callHook(ctx context.Context, h HookConfig, req HookRequest) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "openfcs")
	resp, err := m.hookClient.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no answer within %v", timeout)
		}
		return errors.New("unreachable")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHookAnswer))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// accessConfig returns the access section of app's application.yaml. A
// file that cannot be read or parsed refuses everyone when it mentions
// access at all: a typo must not open a locked application.
func (m *Manager) accessConfig(app string) (AccessConfig, error) {
	m.mu.Lock()
	c := m.appCfgs[app]
	if c == nil {
		c = &appConfigCache{}
		m.appCfgs[app] = c
	}
	m.mu.Unlock()
	dir := m.appDir(app)
	cfg, first, err := c.get(dir)
	if err != nil {
		if !mentionsAccess(dir) {
			return AccessConfig{}, nil
		}
		if first {
			m.log.Error("application config unreadable: refusing every client", "app", app, "err", err)
		}
		return AccessConfig{}, &AccessError{Code: status.ConnectRejected, Description: "Application configuration error."}
	}
	return cfg.Access, nil
}

// checkConnect applies the address ranges and the connect hook.
func (m *Manager) checkConnect(app, inst string, info ClientInfo) error {
	a, err := m.accessConfig(app)
	if err != nil {
		return err
	}
	if !a.addressAllowed(info.IP) {
		m.log.Info("connect refused: address not allowed", "app", app, "ip", info.IP)
		return &AccessError{Code: status.ConnectRejected, Description: "Access denied for this address."}
	}
	if a.hookOn(HookConnect) {
		req := hookRequest(HookConnect, app, inst, nil, info)
		if err := m.callHook(context.Background(), a.Hook, req); err != nil {
			m.log.Info("connect refused by the access hook", "app", app, "ip", info.IP, "err", err)
			return &AccessError{Code: status.ConnectRejected, Description: "Refused by the access hook (" + err.Error() + ")."}
		}
	}
	return nil
}

func hookRequest(action, app, inst string, c *Client, info ClientInfo) HookRequest {
	r := HookRequest{Action: action, App: app, Instance: inst, ConnectQuery: info.Query, ClientIP: info.IP,
		Protocol: info.Protocol, Agent: info.Agent, PageURL: info.PageURL, TcURL: info.URI}
	if c != nil {
		r.ClientID = c.ID
	}
	return r
}

// checkStream applies keys, tokens and the hook to a publish or a play of
// stream with the stream name's query.
func (in *Instance) checkStream(c *Client, action, stream, query, failCode string) error {
	a, err := in.m.accessConfig(in.App)
	if err != nil {
		return &AccessError{Code: failCode, Description: err.(*AccessError).Description} //nolint:errorlint // accessConfig returns it unwrapped
	}
	keys, jwtOn := a.PlayKeys, a.JWT.Play
	if action == HookPublish {
		keys, jwtOn = a.PublishKeys, a.JWT.Publish
	}
	if len(keys) > 0 || jwtOn {
		sq, _ := url.ParseQuery(query)
		cq, _ := url.ParseQuery(c.Query)
		ok := false
		if len(keys) > 0 {
			ok = keyMatches(keys, sq.Get("key")) || keyMatches(keys, cq.Get("key"))
		}
		var tokErr error
		if !ok && jwtOn {
			tok := sq.Get("token")
			if tok == "" {
				tok = cq.Get("token")
			}
			if tokErr = checkToken(a.JWT.Secret, tok, in.App, stream, action); tokErr == nil {
				ok = true
			}
		}
		if !ok {
			why := "no valid key"
			if tokErr != nil && len(keys) == 0 {
				why = tokErr.Error()
			} else if tokErr != nil {
				why = "no valid key or token"
			}
			in.log.Info(action+" refused", "client", c.ID, "stream", stream, "reason", why)
			return &AccessError{Code: failCode, Description: verb(action) + " " + stream + " refused: " + why + "."}
		}
	}
	if a.hookOn(action) {
		req := hookRequest(action, in.App, in.Name, c, c.ClientInfo)
		req.Stream, req.Query = stream, query
		if err := in.m.callHook(context.Background(), a.Hook, req); err != nil {
			in.log.Info(action+" refused by the access hook", "client", c.ID, "stream", stream, "err", err)
			return &AccessError{Code: failCode, Description: verb(action) + " " + stream + " refused by the access hook (" + err.Error() + ")."}
		}
	}
	return nil
}

func verb(action string) string {
	if action == HookPublish {
		return "Publishing"
	}
	return "Playing"
}

// notifyUnpublish posts the unpublish event without waiting for it.
func (in *Instance) notifyUnpublish(c *Client, stream string) {
	a, err := in.m.accessConfig(in.App)
	if err != nil || !a.hookOn(HookUnpublish) {
		return
	}
	req := hookRequest(HookUnpublish, in.App, in.Name, c, c.ClientInfo)
	req.Stream = stream
	go func() {
		if err := in.m.callHook(context.Background(), a.Hook, req); err != nil {
			in.log.Debug("unpublish hook", "stream", stream, "err", err)
		}
	}()
}

func keyMatches(keys []string, got string) bool {
	if got == "" {
		return false
	}
	for _, k := range keys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(got)) == 1 {
			return true
		}
	}
	return false
}

// AccessClaims are the claims a token may carry besides the registered
// ones: each one present must match the request.
type AccessClaims struct {
	jwt.RegisteredClaims
	// App is the application; Stream the stream name or a path.Match
	// pattern ("cam*"); Action "publish" or "play".
	App    string `json:"app,omitempty"`
	Stream string `json:"stream,omitempty"`
	Action string `json:"action,omitempty"`
}

// jwtLeeway tolerates clocks a little apart.
const jwtLeeway = 30 * time.Second

// checkToken verifies an HS256 token with an expiry and its claims.
func checkToken(secret, tok, app, stream, action string) error {
	if tok == "" {
		return errors.New("no token")
	}
	var cl AccessClaims
	_, err := jwt.ParseWithClaims(tok, &cl, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(jwtLeeway))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("token expired")
	case err != nil:
		return errors.New("invalid token")
	case cl.App != "" && cl.App != app:
		return errors.New("token for another application")
	case cl.Action != "" && cl.Action != action:
		return errors.New("token for another action")
	}
	if cl.Stream != "" {
		if ok, err := path.Match(cl.Stream, stream); err != nil || !ok {
			return errors.New("token for another stream")
		}
	}
	return nil
}
