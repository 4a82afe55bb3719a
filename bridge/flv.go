package bridge

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/status"
)

// HTTP-FLV (docs/bridge.md): a live stream as one progressive FLV file.
// The response is an engine subscriber like an RTMP player: the same GOP
// cache start, bounded queue and slow-consumer cut-off; the application
// script admits it like any client (application.onConnect with protocol
// http-flv, then the client's readAccess).

// headerWait bounds waiting for the first audio or video when a stream
// is published but has sent neither yet: the FLV header's flags must say
// which tracks follow (flv.js waits for every announced track), so they
// are taken from what arrives first, or both are set after this long.
const headerWait = 3 * time.Second

// flvWriteBuffer is each player's write buffer: a tick of a few Mbit/s in
// one write; larger payloads bypass it.
const flvWriteBuffer = 32 << 10

// Close reasons of an HTTP-FLV response (the reason field of its closed
// line).
const (
	flvEOF          = "eof"           // the player went away
	flvUnpublished  = "unpublished"   // the publisher stopped: the file ends
	flvSlowConsumer = "slow_consumer" // behind too long, or a flush blocked WriteTimeout
	flvShutdown     = "shutdown"      // the server is stopping
	flvDisconnected = "disconnected"  // the application closed the client
	flvIOError      = "io_error"
)

// serveFLV answers GET, HEAD and OPTIONS on a .flv path. Cheap refusals
// answer here; everything else (admission, which may wait for the
// application script, then streaming) runs on the hijacked connection, so
// no HTTP worker waits on a script.
func (s *Server) serveFLV(fc *fasthttp.RequestCtx, path string) {
	h := &fc.Response.Header
	cors := func() {
		if s.cfg.FLVAllowOrigin != "" {
			h.Set("Access-Control-Allow-Origin", s.cfg.FLVAllowOrigin)
		}
	}
	// fasthttp's Error resets the headers: set them after it.
	refuse := func(msg string, status int) {
		fc.Error(msg+"\n", status)
		cors()
	}
	switch {
	case fc.IsOptions():
		cors()
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range")
		h.Set("Access-Control-Max-Age", "86400")
		fc.SetStatusCode(http.StatusNoContent)
		return
	case !fc.IsGet() && !fc.IsHead():
		refuse("method not allowed", http.StatusMethodNotAllowed)
		h.Set("Allow", "GET, HEAD, OPTIONS")
		return
	}
	target, err := parseFLVPath(path)
	if err != nil {
		refuse("not found", http.StatusNotFound)
		return
	}
	p := &flvPlayer{
		s: s, target: target, head: fc.IsHead(), start: time.Now(),
		remote: fc.RemoteAddr().String(),
		info: instance.ClientInfo{
			IP:       remoteIP(fc.RemoteAddr()),
			Agent:    string(fc.UserAgent()),
			Referrer: string(fc.Referer()),
			PageURL:  string(fc.Request.Header.Peek("Origin")),
			Protocol: "http-flv",
			Query:    string(fc.QueryArgs().QueryString()),
			URI:      fc.URI().String(),
		},
	}
	if fc.IsTLS() {
		p.info.Protocol = "https-flv"
	}
	p.log = s.log.With("proto", p.info.Protocol, "remote", p.remote)
	if status, why := s.trackFLV(p); status != http.StatusOK {
		p.log.Warn("http-flv refused", "path", path, "status", status, "reason", why)
		refuse(why, status)
		return
	}
	fc.HijackSetNoResponse(true)
	fc.Hijack(p.run)
}

// HTTPHandler returns a net/http handler serving HTTP-FLV, for the HTTP/3
// port (a browser that learned of HTTP/3 through Alt-Svc fetches the
// stream over it); other paths go to next (nil: 404). The WebSocket
// endpoint is not served here (docs/bridge.md#http2-and-http3).
func (s *Server) HTTPHandler(proto string, next http.Handler) http.Handler {
	s.init()
	if next == nil {
		next = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Engine == nil || !strings.HasSuffix(r.URL.Path, ".flv") {
			next.ServeHTTP(w, r)
			return
		}
		s.serveFLVHTTP(w, r, proto)
	})
}

// serveFLVHTTP is serveFLV for net/http.
func (s *Server) serveFLVHTTP(w http.ResponseWriter, r *http.Request, proto string) {
	h := w.Header()
	if s.cfg.FLVAllowOrigin != "" {
		h.Set("Access-Control-Allow-Origin", s.cfg.FLVAllowOrigin)
	}
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	target, err := parseFLVPath(r.URL.Path)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	p := &flvPlayer{
		s: s, target: target, head: r.Method == http.MethodHead, start: time.Now(), remote: r.RemoteAddr,
		info: instance.ClientInfo{
			IP:       remoteIP(httpAddr(r.RemoteAddr)),
			Agent:    r.UserAgent(),
			Referrer: r.Referer(),
			PageURL:  r.Header.Get("Origin"),
			Protocol: proto,
			Query:    r.URL.RawQuery,
			URI:      "https://" + r.Host + r.URL.RequestURI(),
		},
	}
	p.log = s.log.With("proto", proto, "remote", p.remote)
	if status, why := s.trackFLV(p); status != http.StatusOK {
		p.log.Warn("http-flv refused", "path", r.URL.Path, "status", status, "reason", why)
		http.Error(w, why, status)
		return
	}
	defer s.untrackFLV(p)
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	stop := context.AfterFunc(r.Context(), func() { cancel(errPlayerGone) })
	defer stop()
	p.peer.init(p, cancel)
	p.info.Peer = &p.peer
	in, cl, status, why := p.admit(ctx)
	if status != http.StatusOK {
		p.refused(status, why)
		http.Error(w, why, status)
		return
	}
	defer in.Disconnect(cl)
	sub := in.Streams().Subscribe(target.Stream, media.SubscribeOptions{Legacy: true}) // an HTTP request cannot announce E-RTMP codecs
	defer sub.Close()
	reason, err := p.stream(ctx, httpSink{w: w, rc: http.NewResponseController(w)}, sub)
	p.closed(cl, reason, err)
}

// httpAddr is a net.Addr for an address net/http gives as a string.
type httpAddr string

func (a httpAddr) Network() string { return "udp" }
func (a httpAddr) String() string  { return string(a) }

// trackFLV counts a player against MaxFLVPlayers; the WaitGroup entry is
// released by run, which fasthttp starts once the handler returns.
func (s *Server) trackFLV(p *flvPlayer) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return http.StatusServiceUnavailable, "server shutting down"
	case len(s.flvs) >= s.cfg.MaxFLVPlayers:
		return http.StatusServiceUnavailable, "max_flv_players reached"
	}
	s.flvs[p] = struct{}{}
	s.wg.Add(1)
	return http.StatusOK, ""
}

func (s *Server) untrackFLV(p *flvPlayer) {
	s.mu.Lock()
	delete(s.flvs, p)
	s.mu.Unlock()
	s.wg.Done()
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

// flvPlayer is one HTTP-FLV response: an instance client (through its
// flvPeer) and a stream subscriber.
type flvPlayer struct {
	s      *Server
	target flvTarget
	info   instance.ClientInfo
	head   bool
	remote string
	start  time.Time
	log    *slog.Logger

	peer     flvPeer
	bytesOut atomic.Uint64
}

// run admits the player and streams until the player, the publisher, the
// application or the server ends it. It owns nc.
func (p *flvPlayer) run(nc net.Conn) {
	defer p.s.untrackFLV(p)
	raw := rawConn(nc)
	ctx, cancel := context.WithCancelCause(p.s.ctx)
	defer cancel(nil)
	p.peer.init(p, cancel)
	p.info.Peer = &p.peer

	in, cl, status, why := p.admit(ctx)
	if status != http.StatusOK {
		p.refused(status, why)
		_ = raw.SetWriteDeadline(time.Now().Add(p.s.inh.WriteTimeout))
		_, _ = io.WriteString(raw, errorResponse(status, why, p.s.cfg.FLVAllowOrigin))
		_ = raw.Close()
		return
	}
	defer in.Disconnect(cl)
	sub := in.Streams().Subscribe(p.target.Stream, media.SubscribeOptions{Client: cl.ID, Legacy: true})
	defer sub.Close()

	// A player sends nothing after its request: a read that returns is
	// the player going away, noticed even while the stream is quiet.
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var b [1]byte
		for {
			if _, err := nc.Read(b[:]); err != nil {
				cancel(errPlayerGone)
				return
			}
		}
	}()
	reason, err := p.stream(ctx, connSink{raw}, sub)
	_ = raw.Close()
	<-readerDone // nc is released to fasthttp when run returns
	p.closed(cl, reason, err)
}

// closed logs the end of a response that played.
func (p *flvPlayer) closed(cl *instance.Client, reason string, err error) {
	attrs := []any{"app", p.target.App, "instance", p.target.Instance, "stream", p.target.Stream, "client", cl.ID,
		"reason", reason, "bytes_out", p.bytesOut.Load(), "duration", time.Since(p.start).Round(time.Millisecond)}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	if reason == flvSlowConsumer || reason == flvIOError {
		p.log.Warn("http-flv closed", attrs...)
	} else {
		p.log.Info("http-flv closed", attrs...)
	}
}

// refused logs a request the engine or the application refused.
func (p *flvPlayer) refused(status int, why string) {
	p.log.Info("http-flv refused", "app", p.target.App, "instance", p.target.Instance, "stream", p.target.Stream,
		"status", status, "reason", why)
}

var (
	errPlayerGone = errors.New("the player closed the connection")
	errDecision   = errors.New("no decision from the application in time")
)

// admit connects the client to its instance, waits for the application's
// decision and checks play access. On success the caller must Disconnect.
func (p *flvPlayer) admit(ctx context.Context) (*instance.Instance, *instance.Client, int, string) {
	t := p.target
	in, cl, err := p.s.Engine.Connect(t.App, t.Instance, p.info)
	switch {
	case errors.Is(err, instance.ErrInvalidApp):
		return nil, nil, http.StatusNotFound, "no such application"
	case errors.Is(err, instance.ErrShutdown):
		return nil, nil, http.StatusServiceUnavailable, "server shutting down"
	case errors.Is(err, instance.ErrScript):
		return nil, nil, http.StatusForbidden, "application script error"
	case errors.Is(err, instance.ErrAccessDenied):
		ae, _ := errors.AsType[*instance.AccessError](err)
		return nil, nil, http.StatusForbidden, ae.Description
	case err != nil:
		return nil, nil, http.StatusBadRequest, err.Error()
	}
	if cl.Deferred() {
		timer := time.NewTimer(p.s.inh.AcceptTimeout)
		defer timer.Stop()
		select {
		case <-p.peer.decided:
		case <-timer.C:
			in.Reject(cl, errDecision.Error(), amf.Undefined())
		case <-ctx.Done():
			in.Disconnect(cl)
			return nil, nil, http.StatusServiceUnavailable, "server shutting down"
		}
	}
	if !cl.Accepted() {
		in.Disconnect(cl)
		why := "connection rejected by the application"
		if d := p.peer.rejectDescription(); d != "" {
			why += ": " + d
		}
		return nil, nil, http.StatusForbidden, why
	}
	if err := in.CheckPlay(cl, t.Stream); err != nil {
		in.Disconnect(cl)
		return nil, nil, http.StatusForbidden, statusText(err)
	}
	if !in.Streams().Published(t.Stream) {
		in.Disconnect(cl)
		return nil, nil, http.StatusNotFound, "stream not published"
	}
	return in, cl, http.StatusOK, ""
}

func statusText(err error) string {
	if se, ok := errors.AsType[*status.Error](err); ok {
		return se.Description
	}
	return err.Error()
}

// stream writes the response: headers, the FLV header, the subscriber's
// initial burst (metadata, codec configuration, GOP from the last
// keyframe), then live tags, flushing at most every MergeWrite.
func (p *flvPlayer) stream(ctx context.Context, out sink, sub *media.Subscriber) (string, error) {
	inh := &p.s.inh
	bw := bufio.NewWriterSize(countingWriter{out, &p.bytesOut}, flvWriteBuffer)
	evs := sub.Drain(nil)
	flags := trackFlags(evs)
	if flags == 0 && !p.head {
		// Published, but no audio or video yet: wait for the first.
		deadline := time.NewTimer(headerWait)
		for flags == 0 {
			select {
			case <-sub.Ready():
				evs = sub.Drain(evs)
				flags = trackFlags(evs)
				continue
			case <-deadline.C:
				flags = flv.FlagAudio | flv.FlagVideo
			case <-ctx.Done():
			}
			break
		}
		deadline.Stop()
		if ctx.Err() != nil {
			return p.endReason(ctx), context.Cause(ctx)
		}
	}
	if err := out.head(bw, p.s.cfg.FLVAllowOrigin); err != nil || p.head {
		return flvEOF, errors.Join(err, p.flush(out, bw))
	}
	var hdr [flv.HeaderSize + flv.PrevSizeLen]byte
	_, _ = bw.Write(flv.AppendHeader(hdr[:0], flags))
	w := tagWriter{bw: bw}
	p.log.Info("http-flv play start", "app", p.target.App, "instance", p.target.Instance, "stream", p.target.Stream)

	var lastFlush time.Time
	var merge *time.Timer
	defer func() {
		if merge != nil {
			merge.Stop()
		}
	}()
	for {
		for i := range evs {
			switch evs[i].Type {
			case media.EventPacket:
				w.tag(evs[i].Packet)
			case media.EventUnpublishNotify:
				_ = p.flush(out, bw)
				return flvUnpublished, nil
			}
		}
		clear(evs)
		if err := p.flush(out, bw); err != nil {
			if errors.Is(err, errFlushTimeout) {
				return flvSlowConsumer, err
			}
			if ctx.Err() != nil {
				return p.endReason(ctx), nil
			}
			return flvIOError, err
		}
		lastFlush = time.Now()
		if err := sub.Err(); errors.Is(err, media.ErrSlowConsumer) {
			return flvSlowConsumer, err
		} else if err != nil {
			return flvShutdown, err // the instance unloaded
		}
		select {
		case <-ctx.Done():
			return p.endReason(ctx), nil
		case <-sub.Ready():
		}
		// The rest of the tick arrives meanwhile: one write for a tick's
		// audio and video, as for RTMP players.
		if wait := inh.MergeWrite - time.Since(lastFlush); inh.MergeWrite > 0 && wait > 0 {
			if merge == nil {
				merge = time.NewTimer(wait)
			} else {
				merge.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return p.endReason(ctx), nil
			case <-merge.C:
			}
		}
		evs = sub.Drain(evs[:0])
	}
}

// endReason names why ctx ended.
func (p *flvPlayer) endReason(ctx context.Context) string {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errPlayerGone):
		return flvEOF
	case errors.Is(cause, errAppClosed):
		return flvDisconnected
	}
	return flvShutdown
}

var errFlushTimeout = errors.New("flush blocked for the write timeout")

// flush writes what is buffered under the write deadline.
func (p *flvPlayer) flush(out sink, bw *bufio.Writer) error {
	if bw.Buffered() == 0 {
		return nil
	}
	if err := out.SetWriteDeadline(time.Now().Add(p.s.inh.WriteTimeout)); err != nil {
		return err
	}
	err := bw.Flush()
	if err == nil {
		err = out.Flush()
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return fmt.Errorf("%w (%v): %w", errFlushTimeout, p.s.inh.WriteTimeout, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v): %w", errFlushTimeout, p.s.inh.WriteTimeout, err)
	}
	return err
}

// sink is where a response's bytes go: a hijacked connection (HTTP/1.1
// on the fiber ports) or a net/http response (HTTP/3).
type sink interface {
	io.Writer
	// head writes the response head (status and headers) to bw, or sets
	// them on the response.
	head(bw *bufio.Writer, allowOrigin string) error
	SetWriteDeadline(t time.Time) error
	// Flush pushes what bw wrote to the network.
	Flush() error
}

// connSink is a hijacked connection: the head is written by hand.
type connSink struct{ net.Conn }

func (c connSink) head(bw *bufio.Writer, allowOrigin string) error {
	_, err := bw.WriteString(okHeaders(allowOrigin))
	return err
}

func (connSink) Flush() error { return nil }

// httpSink is a net/http response.
type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (h httpSink) Write(p []byte) (int, error) { return h.w.Write(p) }

func (h httpSink) head(_ *bufio.Writer, allowOrigin string) error {
	hd := h.w.Header()
	hd.Set("Content-Type", "video/x-flv")
	hd.Set("Cache-Control", "no-cache, no-store")
	if allowOrigin != "" {
		hd.Set("Access-Control-Allow-Origin", allowOrigin)
	}
	h.w.WriteHeader(http.StatusOK)
	return nil
}

// SetWriteDeadline applies the deadline where the server supports one;
// elsewhere the subscriber's queue bounds still cut a stuck player off.
func (h httpSink) SetWriteDeadline(t time.Time) error {
	if err := h.rc.SetWriteDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (h httpSink) Flush() error { return h.rc.Flush() }

// trackFlags returns the FLV header flags for the tracks evs show: audio
// or video tags, or an onMetaData naming their codecs.
func trackFlags(evs []media.Event) uint8 {
	var f uint8
	for i := range evs {
		pk := evs[i].Packet
		if pk == nil {
			continue
		}
		switch pk.Kind {
		case media.Audio:
			f |= flv.FlagAudio
		case media.Video:
			f |= flv.FlagVideo
		case media.Data:
			m, err := flv.ParseMetadata(pk.Payload, amf.Limits{})
			if err != nil {
				continue
			}
			for _, prop := range m.Props {
				switch prop.Key {
				case "audiocodecid":
					f |= flv.FlagAudio
				case "videocodecid":
					f |= flv.FlagVideo
				}
			}
		}
	}
	return f
}

// tagWriter writes packets as FLV tags with timestamps rebased so that
// the file starts near zero: players (flv.js, ffplay) start their clock
// at the first tag, and the publisher's clock may be hours in.
type tagWriter struct {
	bw      *bufio.Writer
	base    uint32
	hasBase bool
	hdr     [flv.TagHeaderSize]byte
}

func (w *tagWriter) tag(pk *media.Packet) {
	if len(pk.Payload) > flv.MaxDataSize {
		return // no FLV tag can hold it (an RTMP message can be 16 MiB)
	}
	typ := uint8(pk.Kind)
	if pk.Kind != media.Audio && pk.Kind != media.Video {
		typ = flv.TagScript
	}
	ts := uint32(0)
	// Configuration and metadata are timeless: they are sent before the
	// first frame whatever their original time.
	if pk.Kind == media.Audio || pk.Kind == media.Video {
		if !pk.Config {
			if !w.hasBase {
				w.base, w.hasBase = pk.Time, true
			}
			if d := int32(pk.Time - w.base); d > 0 {
				ts = uint32(d)
			}
		}
	}
	_, _ = w.bw.Write(flv.AppendTagHeader(w.hdr[:0], typ, len(pk.Payload), ts))
	_, _ = w.bw.Write(pk.Payload)
	var prev [flv.PrevSizeLen]byte
	binary.BigEndian.PutUint32(prev[:], uint32(flv.TagHeaderSize+len(pk.Payload)))
	_, _ = w.bw.Write(prev[:])
}

// countingWriter counts the bytes written to the player.
type countingWriter struct {
	w io.Writer
	n *atomic.Uint64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(uint64(n))
	return n, err
}

// okHeaders is the response head of a stream: no length, the body ends
// when the connection closes (RFC 9112 §6.3).
func okHeaders(allowOrigin string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nServer: openfcs\r\nContent-Type: video/x-flv\r\n")
	b.WriteString("Cache-Control: no-cache, no-store\r\nConnection: close\r\n")
	if allowOrigin != "" {
		b.WriteString("Access-Control-Allow-Origin: " + allowOrigin + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// errorResponse is a whole refusal response.
func errorResponse(status int, why, allowOrigin string) string {
	body := why + "\n"
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Server: openfcs\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	if allowOrigin != "" {
		b.WriteString("Access-Control-Allow-Origin: " + allowOrigin + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// ---------------------------------------------------------------------------
// The player's side of its instance client

var errAppClosed = errors.New("the application disconnected the client")

// flvPeer is an HTTP-FLV player's instance.Peer: the script can accept,
// reject or disconnect it; it cannot be called (HTTP carries nothing back).
type flvPeer struct {
	p       *flvPlayer
	cancel  context.CancelCauseFunc
	decided chan struct{}
	once    sync.Once

	mu     sync.Mutex
	reject string // the rejection's description
}

func (f *flvPeer) init(p *flvPlayer, cancel context.CancelCauseFunc) {
	f.p, f.cancel, f.decided = p, cancel, make(chan struct{})
}

func (f *flvPeer) decide() { f.once.Do(func() { close(f.decided) }) }

func (f *flvPeer) rejectDescription() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reject
}

// Accept implements instance.Peer.
func (f *flvPeer) Accept(*instance.Client) { f.decide() }

// Reject implements instance.Peer: the request answers 403.
func (f *flvPeer) Reject(_ *instance.Client, info amf.Value) {
	why := info.Get("description").Str()
	// rejectConnection(client, {message: ...}) puts the script's reason in
	// info.application: the player reads it in the 403's body.
	if msg := info.Get("application").Get("message"); msg.Kind() == amf.KindString {
		why += " " + msg.Str()
	}
	f.mu.Lock()
	f.reject = why
	f.mu.Unlock()
	f.decide()
}

// Call implements instance.Peer: nothing can reach an HTTP-FLV player.
func (f *flvPeer) Call(string, []amf.Value, instance.Result) bool { return false }

// Close implements instance.Peer: the response ends.
func (f *flvPeer) Close(amf.Value) {
	f.decide()
	f.cancel(errAppClosed)
}

// Ping implements instance.Peer: there is no round trip to measure.
func (f *flvPeer) Ping() bool { return false }

// Stats implements instance.Peer.
func (f *flvPeer) Stats() instance.PeerStats {
	return instance.PeerStats{BytesOut: f.p.bytesOut.Load()}
}
