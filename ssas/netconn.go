package ssas

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/status"
)

// Server-side NetConnection (docs/ssas.md#netconnection-and-netstream): the instance as an RTMP client
// of another instance or server. The engine may not import a transport,
// so the connection comes from an injected Dialer (cmd/openfcs wires the
// project's RTMP client).

// Dialer opens outgoing RTMP connections for NetConnection.connect.
type Dialer interface {
	// Dial connects to uri ("rtmp://host[:port]/app[/inst]", or
	// "rtmp:/app" for this server) with args as the connect arguments.
	// addrs, unless empty, are the "ip:port" addresses to try in order:
	// the host resolved uri's name once and checked each answer against
	// the destination rule, so Dial connects to one of them and never
	// resolves the name again (a second answer could point elsewhere).
	// addrs is empty only for this server (IsLocal). Calls from the
	// remote (its client.call) go to h. A rejection returns a
	// *RejectedError carrying the remote's info object.
	Dial(ctx context.Context, uri string, addrs []string, args []amf.Value, h RemoteHandler) (Remote, error)
	// IsLocal reports whether host (host or host:port) is this server,
	// which scripts may always reach.
	IsLocal(host string) bool
}

// RemoteHandler receives what the remote side sends; any goroutine.
type RemoteHandler interface {
	// Call is a call from the remote (its client.call); result nil when
	// the remote wants no answer.
	Call(method string, args []amf.Value, result instance.Result)
	// Closed reports the end of the connection.
	Closed(err error)
}

// Remote is an open outgoing connection.
type Remote interface {
	// Call invokes method on the remote; result nil: fire and forget.
	Call(method string, args []amf.Value, result instance.Result)
	// Close ends the connection.
	Close()
}

// RemoteInfo is implemented by a Remote that kept the info object its
// server answered connect with; the script's onStatus then receives that
// object (with the server's description, objectEncoding, data...) rather
// than one made up locally.
type RemoteInfo interface {
	ConnectInfo() amf.Value
}

// RejectedError is a connect refused by the remote application; Info is
// its info object (code, description, application).
type RejectedError struct{ Info amf.Value }

func (e *RejectedError) Error() string {
	return "connect rejected: " + e.Info.Get("description").Str()
}

type netConn struct {
	r   *Runtime
	obj *goja.Object
	// loop only
	remote    Remote
	connected bool
	gen       int // connect attempt; stale completions are ignored
	cancel    context.CancelFunc
	gw        *gateway // Flash Remoting side (remoting.go), nil until used
}

func (r *Runtime) netConnOf(v goja.Value) *netConn {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	x := o.Get("\x00nc")
	if x == nil {
		return nil
	}
	nc, _ := x.Export().(*netConn)
	return nc
}

func (r *Runtime) setupNetConnection() {
	vm := r.vm
	proto := vm.NewObject()
	ctor := vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		o := call.This
		_ = o.SetPrototype(proto)
		nc := &netConn{r: r, obj: o}
		_ = o.DefineDataProperty("\x00nc", vm.ToValue(nc), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		_ = o.DefineAccessorProperty("isConnected", vm.ToValue(func() bool { return nc.connected }), nil, goja.FLAG_TRUE, goja.FLAG_FALSE)
		_ = o.Set("uri", goja.Null())
		_ = o.Set("objectEncoding", 0)
		return nil
	}).(*goja.Object)
	_ = ctor.Set("prototype", proto)
	_ = proto.Set("constructor", ctor)
	m := func(name string, f func(nc *netConn, call goja.FunctionCall) goja.Value) {
		_ = proto.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			nc := r.netConnOf(call.This)
			if nc == nil {
				r.throw("NetConnection.%s called on a non-NetConnection", name)
			}
			return f(nc, call)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	m("connect", func(nc *netConn, call goja.FunctionCall) goja.Value {
		uri := call.Argument(0).String()
		return vm.ToValue(nc.connect(uri, r.toAMFList(call.Arguments[min(1, len(call.Arguments)):])))
	})
	m("call", func(nc *netConn, call goja.FunctionCall) goja.Value {
		if nc.isGateway() {
			ro, _ := call.Argument(1).(*goja.Object)
			return vm.ToValue(nc.gatewayCall(call.Argument(0).String(), r.toAMFList(call.Arguments[min(2, len(call.Arguments)):]), ro, nil))
		}
		if !nc.connected {
			return vm.ToValue(false)
		}
		var res instance.Result
		if ro, ok := call.Argument(1).(*goja.Object); ok {
			res = r.resultHandler(ro)
		}
		nc.remote.Call(call.Argument(0).String(), r.toAMFList(call.Arguments[min(2, len(call.Arguments)):]), res)
		return vm.ToValue(true)
	})
	m("close", func(nc *netConn, _ goja.FunctionCall) goja.Value {
		nc.closeGateway()
		was := nc.connected || nc.cancel != nil
		nc.closeRemote()
		if was {
			nc.status(status.ConnectClosed, "Connection closed.", nil)
		}
		return goja.Undefined()
	})
	m("addHeader", func(nc *netConn, call goja.FunctionCall) goja.Value {
		nc.addHeader(call.Argument(0).String(), call.Argument(1).ToBoolean(), call.Argument(2))
		return goja.Undefined()
	})
	// Flash MX's NetServices defined it for remoting credentials; FCS
	// scripts call it on the connection itself.
	m("setCredentials", func(nc *netConn, call goja.FunctionCall) goja.Value {
		cred := vm.NewObject()
		_ = cred.Set("userid", call.Argument(0))
		_ = cred.Set("password", call.Argument(1))
		nc.addHeader("Credentials", false, cred)
		return goja.Undefined()
	})
	_ = vm.Set("NetConnection", ctor)
}

// connect starts a connect on a goroutine; the outcome arrives as
// onStatus on the loop.
func (nc *netConn) connect(uri string, args []amf.Value) bool {
	r := nc.r
	nc.closeRemote()
	nc.closeGateway()
	_ = nc.obj.Set("uri", uri)
	if nc.connectGateway(uri) {
		return true
	}
	if r.h.Dialer == nil {
		nc.statusLater(status.ConnectFailed, "Outgoing connections are not configured.")
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || !strings.HasPrefix(strings.ToLower(u.Scheme), "rtmp") {
		nc.statusLater(status.ConnectFailed, "Bad URI "+uri+".")
		return false
	}
	nc.gen++
	gen := nc.gen
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ConnectTimeout)
	nc.cancel = cancel
	h := &remoteHandler{nc: nc, gen: gen}
	r.bg.Go(func() {
		defer cancel()
		var rem Remote
		var err error
		// The destination check resolves the name: not on the loop.
		var addrs []string
		if u.Host != "" && !r.h.Dialer.IsLocal(u.Host) {
			addrs, err = r.checkedAddrs(ctx, u)
		}
		if err == nil {
			rem, err = r.h.Dialer.Dial(ctx, uri, addrs, args, h)
		}
		ok := r.post(func() {
			if nc.gen != gen {
				if rem != nil {
					go rem.Close()
				}
				return
			}
			nc.cancel = nil
			if err != nil {
				if rej, ok := errors.AsType[*RejectedError](err); ok {
					nc.statusInfo(rej.Info)
					return
				}
				nc.status(status.ConnectFailed, err.Error(), nil)
				return
			}
			nc.remote, nc.connected = rem, true
			r.conns[nc] = struct{}{}
			if ri, ok := rem.(RemoteInfo); ok && ri.ConnectInfo().Get("code").Str() == status.ConnectSuccess {
				nc.statusInfo(ri.ConnectInfo())
				return
			}
			nc.status(status.ConnectSuccess, "Connection succeeded.", nil)
		})
		if !ok && rem != nil {
			rem.Close()
		}
	})
	return true
}

// closeRemote drops the current connection or attempt. Loop goroutine.
func (nc *netConn) closeRemote() {
	nc.gen++
	if nc.cancel != nil {
		nc.cancel()
		nc.cancel = nil
	}
	if nc.remote != nil {
		rem := nc.remote
		nc.remote, nc.connected = nil, false
		delete(nc.r.conns, nc)
		nc.r.bg.Go(rem.Close)
	}
}

func (nc *netConn) status(code, desc string, extra []any) {
	r := nc.r
	info := r.infoObject(code, desc, extra...)
	if _, ran, _ := r.callHandler("onStatus", nc.obj, info); !ran {
		r.status(info)
	}
}

func (nc *netConn) statusInfo(info amf.Value) {
	r := nc.r
	v, err := r.toJS(info)
	if err != nil {
		r.log.Info("NetConnection status dropped", "err", err)
		return
	}
	if _, ran, _ := r.callHandler("onStatus", nc.obj, v); !ran {
		if o, ok := v.(*goja.Object); ok {
			r.status(o)
		}
	}
}

// statusLater reports a failure after connect() has returned, as FCS did.
func (nc *netConn) statusLater(code, desc string) {
	nc.r.post(func() { nc.status(code, desc, nil) })
}

// remoteCall forwards a proxied call (registerProxy).
func (nc *netConn) remoteCall(method string, args []amf.Value, result instance.Result) {
	if nc.isGateway() {
		nc.gatewayCall(method, args, nil, result)
		return
	}
	if !nc.connected {
		result(callFailedInfo("NetConnection is not connected."), false)
		return
	}
	nc.remote.Call(method, args, result)
}

type remoteHandler struct {
	nc  *netConn
	gen int
}

// Call runs a method defined on the NetConnection object for the remote.
func (h *remoteHandler) Call(method string, args []amf.Value, result instance.Result) {
	nc := h.nc
	posted := nc.r.post(func() {
		fn, ok := goja.AssertFunction(nc.obj.Get(method))
		if !ok {
			if result != nil {
				result(callFailedInfo("Method not found ("+method+")."), false)
			}
			return
		}
		js, err := nc.r.toJSArgs(args)
		if err != nil {
			nc.r.log.Info("NetConnection call refused", "method", method, "err", err)
			if result != nil {
				result(callFailedInfo("Arguments too large ("+method+")."), false)
			}
			return
		}
		v, err := nc.r.call("NetConnection."+method, fn, nc.obj, js...)
		if result == nil {
			return
		}
		if err != nil {
			result(callFailedInfo("Failed to execute method ("+method+")."), false)
			return
		}
		result(nc.r.toAMF(v), true)
	})
	if !posted && result != nil {
		result(callFailedInfo("Application is gone."), false)
	}
}

// Closed reports that the remote ended the connection.
func (h *remoteHandler) Closed(error) {
	nc := h.nc
	nc.r.post(func() {
		if nc.gen != h.gen || !nc.connected {
			return
		}
		nc.remote, nc.connected = nil, false
		delete(nc.r.conns, nc)
		nc.status(status.ConnectClosed, "Connection closed.", nil)
	})
}

// checkedAddrs resolves an rtmp URL's host once and returns the addresses
// that pass the destination rule of docs/ssas.md#other-guards (loopback,
// private, link-local and unspecified addresses need an entry in
// Config.AllowHosts), as "ip:port" for the Dialer.
func (r *Runtime) checkedAddrs(ctx context.Context, u *url.URL) ([]string, error) {
	ips, err := destinationAddrs(ctx, u.Hostname(), r.cfg.AllowHosts)
	if err != nil {
		r.log.Info("NetConnection destination refused", "host", u.Hostname(), "err", err)
		return nil, errors.New("Destination not allowed: " + u.Hostname() + ".")
	}
	port := u.Port()
	if port == "" {
		port = "1935"
	}
	addrs := make([]string, len(ips))
	for i, ip := range ips {
		addrs[i] = net.JoinHostPort(ip.String(), port)
	}
	return addrs, nil
}
