package ssas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/amf/remoting"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/status"
)

// Flash Remoting from scripts (docs/remoting.md): a NetConnection
// connected to an http:// or https:// URL sends its calls to that gateway
// as AMF POSTs instead of over RTMP. As in Flash, calls made during one
// script entry go out together in one request, and a connection has one
// request running at a time, so that a session id the gateway hands out
// (AppendToGatewayUrl) reaches every later call. Requests run on
// goroutines under Config.HTTPTimeout and the destination rule of docs/ssas.md#other-guards;
// their outcome is posted back to the loop.

// Status codes of calls that failed on the way (Flash Player's).
const (
	codeCallFailed = status.CallFailed
	codeBadVersion = status.CallBadVersion
)

// remotingState accounts an instance's remoting calls. Loop only.
type remotingState struct {
	inFlight int        // requests running
	queued   int        // calls not yet sent, every connection
	waiting  []*netConn // connections with calls and no free request slot
}

// gateway is the remoting side of a NetConnection. Its headers outlive
// connect and close (they belong to the NetConnection object, as in
// Flash); the rest is reset by them. Loop only.
type gateway struct {
	base      string            // URL given to connect; AppendToGatewayUrl appends to it
	url       string            // URL of the next request; "" when not a gateway connection
	headers   []remoting.Header // sent with every request
	queue     []*gatewayCall
	busy      bool // a request is running
	scheduled bool // a pump is posted
	waiting   bool // in remotingState.waiting
	nextID    int
	gen       int // bumped by connect and close: late answers are dropped
	cancel    context.CancelFunc
}

// gatewayCall is one call; its outcome goes to the script responder, or to
// result for a call forwarded by registerProxy.
type gatewayCall struct {
	id        int
	target    string
	args      []amf.Value
	responder *goja.Object
	result    instance.Result
}

// gatewayOf returns nc's remoting side, made on first use.
func (nc *netConn) gatewayOf() *gateway {
	if nc.gw == nil {
		nc.gw = &gateway{}
	}
	return nc.gw
}

// isGateway reports whether nc is connected to a remoting gateway.
func (nc *netConn) isGateway() bool { return nc.gw != nil && nc.gw.url != "" }

// connectGateway makes nc a remoting connection when uri is an http(s)
// URL and reports whether it did. Like Flash, it sends nothing yet and
// reports no status: HTTP has no connection to open.
func (nc *netConn) connectGateway(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Host == "" {
		return false
	}
	gw := nc.gatewayOf()
	gw.base, gw.url = uri, uri
	return true
}

// closeGateway drops the calls not sent yet and ignores the answer of the
// running request. Loop goroutine.
func (nc *netConn) closeGateway() {
	gw := nc.gw
	if gw == nil {
		return
	}
	rs := &nc.r.remoting
	if n := len(gw.queue); n > 0 {
		rs.queued -= n
		nc.r.log.Info("remoting calls dropped by close", "gateway", safeURL(gw.url), "calls", n)
	}
	gw.gen++
	if gw.cancel != nil {
		gw.cancel()
		gw.cancel = nil
	}
	// The running request still holds its instance slot until its
	// goroutine reports back; the connection is free at once.
	gw.busy = false
	gw.queue, gw.url, gw.base = nil, "", ""
}

// addHeader implements NetConnection.addHeader(name, mustUnderstand,
// value): a header sent with every later request; the same name replaces
// it, an undefined value removes it.
func (nc *netConn) addHeader(name string, mustUnderstand bool, v goja.Value) {
	if v == nil || goja.IsUndefined(v) {
		nc.setHeader(remoting.Header{Name: name, Value: amf.Undefined()})
		return
	}
	nc.setHeader(remoting.Header{Name: name, MustUnderstand: mustUnderstand, Value: nc.r.toAMF(v)})
}

// setHeader adds or replaces a header by name; an undefined value removes
// it.
func (nc *netConn) setHeader(h remoting.Header) {
	gw := nc.gatewayOf()
	for i := range gw.headers {
		if gw.headers[i].Name == h.Name {
			gw.headers = append(gw.headers[:i:i], gw.headers[i+1:]...)
			break
		}
	}
	if !h.Value.IsUndefined() {
		gw.headers = append(gw.headers, h)
	}
}

// gatewayCall queues a call; it goes out when the current script entry
// ends. It reports false when the instance has too many calls queued (the
// responder then gets onStatus).
func (nc *netConn) gatewayCall(target string, args []amf.Value, responder *goja.Object, result instance.Result) bool {
	r, gw := nc.r, nc.gw
	c := &gatewayCall{target: target, args: args, responder: responder, result: result}
	if r.remoting.queued >= r.cfg.RemotingMaxQueued {
		r.post(func() {
			nc.failCalls([]*gatewayCall{c}, codeCallFailed,
				fmt.Sprintf("Too many remoting calls waiting (%d).", r.cfg.RemotingMaxQueued), gw.url)
		})
		return false
	}
	gw.nextID++
	c.id = gw.nextID
	gw.queue = append(gw.queue, c)
	r.remoting.queued++
	if !gw.scheduled {
		gw.scheduled = true
		r.post(func() {
			gw.scheduled = false
			nc.pumpGateway()
		})
	}
	return true
}

// pumpGateway sends the queued calls of nc as one request when nc has none
// running and the instance has a free request slot. Loop goroutine.
func (nc *netConn) pumpGateway() {
	r, gw := nc.r, nc.gw
	if gw == nil || gw.busy || len(gw.queue) == 0 || gw.url == "" {
		return
	}
	rs := &r.remoting
	if rs.inFlight >= r.cfg.RemotingMaxRequests {
		if !gw.waiting {
			gw.waiting = true
			rs.waiting = append(rs.waiting, nc)
		}
		return
	}
	batch := gw.queue
	gw.queue = nil
	rs.queued -= len(batch)
	rs.inFlight++
	gw.busy = true
	pkt := remoting.Packet{Version: remoting.VersionFMS, Headers: append([]remoting.Header(nil), gw.headers...)}
	for _, c := range batch {
		pkt.Messages = append(pkt.Messages, remoting.Message{
			Target: c.target, Response: "/" + strconv.Itoa(c.id), Value: amf.StrictArray(c.args...)})
	}
	target, gen := gw.url, gw.gen
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.HTTPTimeout)
	gw.cancel = cancel
	client := r.httpClient()
	lim := remoting.Limits{MaxBytes: r.cfg.RemotingMaxBody}
	agent := "openfcs/" + r.h.Version
	r.log.Debug("remoting request", "gateway", safeURL(target), "calls", len(batch))
	r.bg.Go(func() {
		defer cancel()
		go func() {
			select {
			case <-r.stopBG:
				cancel()
			case <-ctx.Done():
			}
		}()
		resp, err := postPacket(ctx, client, target, agent, &pkt, lim)
		r.post(func() {
			rs.inFlight--
			defer r.kickGateways()
			if gw.gen != gen {
				return // closed or reconnected meanwhile
			}
			gw.busy, gw.cancel = false, nil
			if err != nil {
				code := codeCallFailed
				if ce, ok := errors.AsType[*callError](err); ok {
					code = ce.code
				}
				nc.failCalls(batch, code, err.Error(), target)
			} else {
				nc.deliver(batch, resp, target)
			}
			nc.pumpGateway()
		})
	})
}

// kickGateways gives free request slots to the connections waiting for
// one, in order. Loop goroutine.
func (r *Runtime) kickGateways() {
	rs := &r.remoting
	for len(rs.waiting) > 0 && rs.inFlight < r.cfg.RemotingMaxRequests {
		nc := rs.waiting[0]
		rs.waiting[0] = nil
		rs.waiting = rs.waiting[1:]
		nc.gw.waiting = false
		nc.pumpGateway()
	}
}

// callError is a call that failed on the way: Code is the status code,
// Error() its description.
type callError struct{ code, desc string }

func (e *callError) Error() string { return e.desc }

func failed(code, format string, args ...any) *callError {
	return &callError{code: code, desc: fmt.Sprintf(format, args...)}
}

// postPacket sends one request and decodes the answer. Errors are
// *callError values.
func postPacket(ctx context.Context, client *http.Client, target, agent string, pkt *remoting.Packet, lim remoting.Limits) (*remoting.Packet, error) {
	body, err := pkt.Marshal(lim)
	if err != nil {
		return nil, failed(codeCallFailed, "Request not sent: %v.", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, failed(codeCallFailed, "HTTP: Failed: %v.", err)
	}
	req.Header.Set("Content-Type", remoting.ContentType)
	req.Header.Set("User-Agent", agent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, failed(codeCallFailed, "HTTP: Failed: %s.", httpErrText(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, failed(codeCallFailed, "HTTP: Status %d.", resp.StatusCode)
	}
	limit := lim.MaxBytes
	if resp.ContentLength > int64(limit) {
		return nil, failed(codeCallFailed, "HTTP: Response of %d bytes exceeds the limit of %d.", resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, failed(codeCallFailed, "HTTP: Failed: %s.", httpErrText(err))
	}
	if len(b) > limit {
		return nil, failed(codeCallFailed, "HTTP: Response exceeds the limit of %d bytes.", limit)
	}
	var out remoting.Packet
	if err := out.Unmarshal(b, lim); err != nil {
		return nil, failed(codeBadVersion, "Bad AMF response: %v.", err)
	}
	return &out, nil
}

// httpErrText describes a request error without repeating the URL that
// *url.Error puts first (the status object carries it in details).
func httpErrText(err error) string {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}

// deliver applies the answer's headers, then hands each call its result
// or status. Loop goroutine.
func (nc *netConn) deliver(batch []*gatewayCall, resp *remoting.Packet, target string) {
	r := nc.r
	for _, h := range resp.Headers {
		nc.gatewayHeader(h)
	}
	answers := make(map[string]remoting.Message, len(resp.Messages))
	for _, m := range resp.Messages {
		uri, outcome, ok := remoting.SplitTarget(m.Target)
		if !ok || (outcome != remoting.OnResult && outcome != remoting.OnStatus) {
			continue // onDebugEvents and the like
		}
		if _, dup := answers[uri]; !dup {
			answers[uri] = m
		}
	}
	for _, c := range batch {
		m, ok := answers["/"+strconv.Itoa(c.id)]
		if !ok {
			nc.failCalls([]*gatewayCall{c}, codeCallFailed, "The gateway sent no answer to this call.", target)
			continue
		}
		if _, outcome, _ := remoting.SplitTarget(m.Target); outcome == remoting.OnStatus {
			r.log.Info("remoting call failed", "gateway", safeURL(target), "method", c.target,
				"code", m.Value.Get("code").Str(), "description", m.Value.Get("description").Str())
			nc.callStatus(c, m.Value)
			continue
		}
		if c.result != nil {
			c.result(m.Value, true)
			continue
		}
		if c.responder != nil {
			v, err := r.toJS(m.Value)
			if err != nil {
				nc.failCalls([]*gatewayCall{c}, codeCallFailed, "Result too large to convert.", target)
				continue
			}
			_, _, _ = r.callHandler("onResult", c.responder, v)
		}
	}
}

// gatewayHeader applies a header the gateway sent: the three Flash
// handled itself, and any other as a call of the NetConnection's method
// of that name. Loop goroutine.
func (nc *netConn) gatewayHeader(h remoting.Header) {
	r, gw := nc.r, nc.gw
	switch h.Name {
	case "AppendToGatewayUrl":
		gw.url = gw.base + h.Value.Str()
	case "ReplaceGatewayUrl":
		u, err := url.Parse(h.Value.Str())
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.log.Warn("remoting gateway sent a bad ReplaceGatewayUrl", "gateway", safeURL(gw.url))
			return
		}
		gw.base, gw.url = h.Value.Str(), h.Value.Str()
		_ = nc.obj.Set("uri", gw.url)
	case "RequestPersistentHeader":
		v := h.Value
		name := v.Get("name").Str()
		if name == "" {
			return
		}
		// Kept as AMF: it goes back to the gateway as it came.
		nc.setHeader(remoting.Header{Name: name, MustUnderstand: v.Get("mustUnderstand").Bool(), Value: v.Get("data")})
	default:
		fn, ok := goja.AssertFunction(nc.obj.Get(h.Name))
		if !ok {
			return
		}
		v, err := r.toJS(h.Value)
		if err != nil {
			r.log.Warn("remoting gateway header refused", "gateway", safeURL(gw.url), "header", h.Name, "err", err)
			return
		}
		_, _ = r.call("NetConnection."+h.Name, fn, nc.obj, v)
	}
}

// failCalls reports calls that failed on the way: one log line each, and
// a status object to each responder. Loop goroutine.
func (nc *netConn) failCalls(calls []*gatewayCall, code, desc, target string) {
	r := nc.r
	for _, c := range calls {
		r.log.Warn("remoting call failed", "gateway", safeURL(target), "method", c.target, "code", code, "description", desc)
		info := status.Info(code, desc)
		info.Set("details", amf.String(safeURL(target)))
		nc.callStatus(c, info)
	}
}

// callStatus hands a status object to the call's responder; without an
// onStatus there it goes to the NetConnection's onStatus, then to
// application.onStatus, so that it is never lost.
func (nc *netConn) callStatus(c *gatewayCall, info amf.Value) {
	r := nc.r
	if c.result != nil {
		c.result(info, false)
		return
	}
	v, err := r.toJS(info)
	if err != nil {
		r.log.Info("remoting status too large to convert", "method", c.target, "err", err)
		v = r.infoObject(codeCallFailed, "Status too large to convert.")
	}
	if c.responder != nil {
		if _, ran, _ := r.callHandler("onStatus", c.responder, v); ran {
			return
		}
	}
	if _, ran, _ := r.callHandler("onStatus", nc.obj, v); !ran {
		if o, ok := v.(*goja.Object); ok {
			r.status(o)
		}
	}
}

// safeURL is a URL for logs and status objects: no user info, no query (a
// session id lives there after AppendToGatewayUrl).
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(bad URL)"
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return u.String()
}
