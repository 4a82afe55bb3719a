package tunnel

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// ErrStatus is wrapped by the error of a tunnel request answered with a
// status other than 200 (docs/rtmpt.md#errors-and-expiry: clients treat it as a failure).
var ErrStatus = errors.New("tunnel: unexpected HTTP status")

// DialConfig configures the client side of the tunnel. A zero field means
// its default.
type DialConfig struct {
	// Client sends the requests. Default: one shared per Dialer, with
	// keep-alive (HTTP/1.1) or quic-go's HTTP/3 transport (HTTP3).
	Client *http.Client
	// TLS is the TLS configuration for rtmpts:// and HTTP/3 (e.g.
	// InsecureSkipVerify for a self-signed development certificate).
	TLS *tls.Config
	// HTTP3 sends the requests over HTTP/3 (QUIC, UDP) to the same host
	// and port; the URL's scheme must be rtmpts (or https).
	HTTP3 bool
	// IdleInterval is the pause after a poll that returned nothing, as
	// ffmpeg does (50 ms, about 20 polls a second when idle), counted from
	// the start of that poll, so that an answer the server held (held-idle
	// mode) is not followed by a pause. Negative: follow the server's
	// polling byte (n/64 s), as Flash Player does. Default 50ms.
	IdleInterval time.Duration
	// PollEvery, when positive, paces polls to at most one per PollEvery
	// even when the previous response carried data (bytes to send still go
	// at once): a fixed cadence, as the benchmarks use for ~12 polls/s.
	// Default 0: poll again right after a response with data, as ffmpeg
	// and librtmp do.
	PollEvery time.Duration
	// MaxBody bounds one /send body; the rest goes in the next. Default
	// 1 MiB.
	MaxBody int
	// MaxBuffered bounds received bytes not yet read; polling pauses
	// beyond it so that a reader that stops reading is not flooded.
	// Default 4 MiB.
	MaxBuffered int
	// RequestTimeout bounds one request. Default 15s.
	RequestTimeout time.Duration
}

// WithDefaults returns c with every zero field set to its default (a new
// HTTP client when Client is nil).
func (c DialConfig) WithDefaults() DialConfig {
	c = c.limits()
	if c.Client == nil {
		c.Client = newHTTPClient(c)
	}
	return c
}

// limits sets the defaults of every field but Client.
func (c DialConfig) limits() DialConfig {
	if c.IdleInterval == 0 {
		c.IdleInterval = 50 * time.Millisecond
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = 4 << 20
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 15 * time.Second
	}
	return c
}

// newHTTPClient makes the default client: quic-go's HTTP/3 transport, or
// net/http's with keep-alive and HTTP/1.1 only.
func newHTTPClient(c DialConfig) *http.Client {
	if c.HTTP3 {
		return &http.Client{Transport: &http3.Transport{TLSClientConfig: c.TLS}}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = c.TLS
	tr.MaxIdleConnsPerHost = 1024
	// The tunnel's bodies are application/x-fcs; never transparently
	// compressed, never over HTTP/2 (docs/rtmpt.md#headers).
	tr.DisableCompression = true
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return &http.Client{Transport: tr}
}

// closeHTTPClient drops a default client's connections; an HTTP/3
// transport is closed entirely (its UDP socket has a reader goroutine).
func closeHTTPClient(c *http.Client) {
	c.CloseIdleConnections()
	if cl, ok := c.Transport.(io.Closer); ok {
		_ = cl.Close()
	}
}

// DialFunc returns a dial function for rtmp.ClientConfig.Dial: each call
// opens a tunnel session to the URL's host (rtmpt:// on port 80 by
// default, rtmpts:// on 443):
//
//	rtmp.Dial(ctx, "rtmpt://host:8080/live", rtmp.ClientConfig{Dial: tunnel.DialFunc(tunnel.DialConfig{})})
//
// The sessions of one DialFunc share its HTTP client; when it made that
// client (cfg.Client nil), its idle connections are closed whenever the
// last of its sessions ends, so nothing lingers after the clients close.
func DialFunc(cfg DialConfig) func(ctx context.Context, u *url.URL) (net.Conn, error) {
	d, _ := Dialer(cfg)
	return d
}

// Dialer is DialFunc plus a cleanup function that closes the shared HTTP
// client's idle connections at once (safe while sessions live: they
// reconnect).
func Dialer(cfg DialConfig) (dial func(ctx context.Context, u *url.URL) (net.Conn, error), cleanup func()) {
	sh := &sharedClient{cfg: cfg.limits(), owned: cfg.Client == nil, client: cfg.Client}
	dial = func(ctx context.Context, u *url.URL) (net.Conn, error) {
		c := sh.cfg
		c.Client = sh.acquire()
		conn, err := dialSession(ctx, u, c, sh.release)
		if err != nil {
			sh.release()
			return nil, err
		}
		return conn, nil
	}
	cleanup = func() {
		sh.mu.Lock()
		c := sh.client
		sh.mu.Unlock()
		if c != nil {
			c.CloseIdleConnections()
		}
	}
	return dial, cleanup
}

// sharedClient is the HTTP client of a Dialer's sessions. An owned
// (default) client is made for the first session and closed when the last
// one ends; the next session makes a new one.
type sharedClient struct {
	cfg   DialConfig
	owned bool

	mu     sync.Mutex
	client *http.Client
	n      int
}

func (s *sharedClient) acquire() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = newHTTPClient(s.cfg)
	}
	s.n++
	return s.client
}

func (s *sharedClient) release() {
	s.mu.Lock()
	s.n--
	var done *http.Client
	if s.n == 0 && s.owned {
		done, s.client = s.client, nil
	}
	s.mu.Unlock()
	if done != nil {
		closeHTTPClient(done)
	}
}

// BaseURL maps an rtmpt:// or rtmpts:// URL to the HTTP base URL of the
// tunnel (http://host:80, https://host:443 by default, docs/rtmpt.md#ports-and-urls).
func BaseURL(u *url.URL) (string, error) {
	var scheme, port string
	switch strings.ToLower(u.Scheme) {
	case "rtmpt", "http":
		scheme, port = "http", "80"
	case "rtmpts", "https":
		scheme, port = "https", "443"
	default:
		return "", fmt.Errorf("tunnel: scheme %q: want rtmpt or rtmpts", u.Scheme)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return scheme + "://" + net.JoinHostPort(u.Hostname(), port), nil
}

// ClientConn is the client side of one tunnel session: a net.Conn whose
// writes are sent in /send bodies and whose reads return the bytes of the
// responses. One goroutine polls: it sends pending bytes, or an /idle when
// there are none, immediately after a response that carried data and after
// IdleInterval otherwise, one request at a time (as ffmpeg and librtmp).
type ClientConn struct {
	cfg    DialConfig
	base   string
	id     string
	local  net.Addr
	remote net.Addr

	rdl, wdl deadline

	mu      sync.Mutex
	out     []byte // to send
	in      []byte // received, not yet read: in[inOff:]
	inOff   int
	err     error // what ended the session; Read returns it once in is drained
	closed  bool
	seq     uint64
	lastRTT time.Duration
	empties uint64 // responses without data

	wake     chan struct{} // poller: bytes to send
	room     chan struct{} // poller: the reader made room (after a pause)
	readable chan struct{} // reader: bytes received or session ended
	stop     chan struct{} // closed by Close/Abandon
	stopOnce sync.Once
	pollDone chan struct{}
	// release runs once when the session is over (see Dialer).
	release     func()
	releaseOnce sync.Once
}

// Dial opens a tunnel session (POST /open/1) and starts polling. With a
// nil cfg.Client the session has an HTTP client of its own, whose
// connections close with the session.
func Dial(ctx context.Context, u *url.URL, cfg DialConfig) (*ClientConn, error) {
	owned := cfg.Client == nil
	cfg = cfg.WithDefaults()
	release := func() {}
	if owned {
		release = func() { closeHTTPClient(cfg.Client) }
	}
	c, err := dialSession(ctx, u, cfg, release)
	if err != nil {
		release()
		return nil, err
	}
	return c, nil
}

// dialSession opens a session with a configured cfg; release runs once
// when the session ends (closed, abandoned or failed).
func dialSession(ctx context.Context, u *url.URL, cfg DialConfig, release func()) (*ClientConn, error) {
	base, err := BaseURL(u)
	if err != nil {
		return nil, err
	}
	c := &ClientConn{
		cfg:      cfg,
		base:     base,
		local:    httpAddr("tunnel-client"),
		remote:   httpAddr(strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")),
		wake:     make(chan struct{}, 1),
		room:     make(chan struct{}, 1),
		readable: make(chan struct{}, 1),
		stop:     make(chan struct{}),
		pollDone: make(chan struct{}),
		release:  release,
	}
	body, err := c.post(ctx, "/open/1", []byte{0})
	if err != nil {
		return nil, err
	}
	id := strings.TrimSpace(string(body))
	if _, err := parseSession(KindIdle, id+"/0"); err != nil || id == "" {
		return nil, fmt.Errorf("tunnel: /open/1 answered %q, not a session id", body)
	}
	c.id = id
	go c.poll()
	return c, nil
}

// ID returns the session id.
func (c *ClientConn) ID() string { return c.id }

// post sends one request and returns the response body.
func (c *ClientConn) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	// The headers of ffmpeg and Flash Player (docs/rtmpt.md#headers).
	req.Header.Set("Content-Type", "application/x-fcs")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("User-Agent", "Shockwave Flash")
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tunnel: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("tunnel: POST %s: body: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: POST %s: %s", ErrStatus, path, resp.Status)
	}
	return b, nil
}

// poll is the polling goroutine.
func (c *ClientConn) poll() {
	defer close(c.pollDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wait time.Duration
	var timer *time.Timer
	for {
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-c.wake: // bytes to send: go now
				if !timer.Stop() {
					<-timer.C
				}
			case <-timer.C:
			case <-c.stop:
				return
			}
		}
		select {
		case <-c.stop:
			return
		default:
		}
		c.mu.Lock()
		if len(c.in)-c.inOff >= c.cfg.MaxBuffered && len(c.out) == 0 {
			// The reader is behind: wait for it (or for bytes to send).
			c.mu.Unlock()
			select {
			case <-c.wake:
			case <-c.room:
			case <-c.stop:
				return
			}
			wait = 0
			continue
		}
		var path string
		var body []byte
		if len(c.out) > 0 {
			n := min(len(c.out), c.cfg.MaxBody)
			body = append([]byte(nil), c.out[:n]...)
			c.out = c.out[:copy(c.out, c.out[n:])]
			path = "/send/"
		} else {
			body = []byte{0}
			path = "/idle/"
		}
		path += c.id + "/" + strconv.FormatUint(c.seq, 10)
		c.seq++
		c.mu.Unlock()

		start := time.Now()
		resp, err := c.post(ctx, path, body)
		if err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		c.lastRTT = time.Since(start)
		c.mu.Unlock()
		if len(resp) == 0 {
			c.fail(fmt.Errorf("tunnel: POST %s: empty response", path))
			return
		}
		interval, data := resp[0], resp[1:]
		if len(data) > 0 {
			c.mu.Lock()
			if c.inOff > 0 && len(c.in)+len(data) > cap(c.in) {
				c.in = c.in[:copy(c.in, c.in[c.inOff:])]
				c.inOff = 0
			}
			c.in = append(c.in, data...)
			c.mu.Unlock()
			signal(c.readable)
			wait = max(0, c.cfg.PollEvery-time.Since(start))
			continue
		}
		if interval == 0 {
			c.fail(io.EOF) // the server's session has ended (docs/rtmpt.md#response-bodies-and-the-polling-byte)
			return
		}
		c.mu.Lock()
		sending := len(c.out) > 0
		c.empties++
		c.mu.Unlock()
		switch {
		case sending:
			wait = 0
		case c.cfg.IdleInterval < 0:
			wait = time.Duration(interval) * time.Second / 64
		default:
			// Counted from the request's start: an answer the server
			// held (hold_idle) was already the pause.
			wait = c.cfg.IdleInterval - time.Since(start)
		}
		wait = max(wait, c.cfg.PollEvery-time.Since(start))
	}
}

// fail ends the session with err (the first error wins).
func (c *ClientConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	signal(c.readable)
}

// Read returns received bytes.
func (c *ClientConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if n := len(c.in) - c.inOff; n > 0 {
			k := copy(p, c.in[c.inOff:])
			c.inOff += k
			if c.inOff == len(c.in) {
				c.in, c.inOff = c.in[:0], 0
			}
			c.mu.Unlock()
			signal(c.room) // in case the poller paused for a full buffer
			return k, nil
		}
		closed, err := c.closed, c.err
		c.mu.Unlock()
		if closed {
			return 0, net.ErrClosed
		}
		if err != nil {
			return 0, err
		}
		select {
		case <-c.readable:
		case <-c.stop:
		case <-c.rdl.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// Write queues p for the next /send and wakes the poller. It blocks while
// more than MaxBuffered bytes wait to be sent, until the write deadline.
func (c *ClientConn) Write(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return 0, err
		}
		if len(c.out) < c.cfg.MaxBuffered {
			c.out = append(c.out, p...)
			c.mu.Unlock()
			signal(c.wake)
			return len(p), nil
		}
		c.mu.Unlock()
		signal(c.wake)
		select {
		case <-time.After(time.Millisecond):
		case <-c.stop:
		case <-c.wdl.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// Close sends what is pending, then /close, and stops polling.
func (c *ClientConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	alreadyFailed := c.err != nil
	c.mu.Unlock()
	// Let the poller flush pending bytes (bounded by one request).
	if !alreadyFailed {
		deadline := time.Now().Add(c.cfg.RequestTimeout)
		for time.Now().Before(deadline) {
			c.mu.Lock()
			empty, failed := len(c.out) == 0, c.err != nil
			c.mu.Unlock()
			if empty || failed {
				break
			}
			signal(c.wake)
			select {
			case <-time.After(time.Millisecond):
			case <-c.pollDone:
			}
		}
	}
	c.halt()
	c.mu.Lock()
	seq := c.seq
	c.seq++
	c.mu.Unlock()
	var err error
	if !alreadyFailed {
		_, err = c.post(context.Background(), "/close/"+c.id+"/"+strconv.FormatUint(seq, 10), []byte{0})
	}
	c.releaseOnce.Do(c.release)
	return err
}

// Abandon stops polling without telling the server, as a crashed client
// would; the server's session then expires. For tests and load tools.
func (c *ClientConn) Abandon() {
	c.halt()
	c.releaseOnce.Do(c.release)
}

// halt stops the poller and marks the conn closed.
func (c *ClientConn) halt() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.pollDone
	c.rdl.stop()
	c.wdl.stop()
}

// EmptyPolls returns how many responses carried no data.
func (c *ClientConn) EmptyPolls() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.empties
}

// RTT returns the duration of the last request.
func (c *ClientConn) RTT() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastRTT
}

// LocalAddr is a placeholder: a session spans many HTTP connections.
func (c *ClientConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr is the tunnel server's host:port.
func (c *ClientConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *ClientConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline bounds Read.
func (c *ClientConn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

// SetWriteDeadline bounds a Write blocked on a full send buffer.
func (c *ClientConn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

var _ net.Conn = (*ClientConn)(nil)
