package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/ssas"
	"github.com/openfcs/openfcs/status"
)

// Wiring of application scripts: the ssas host loads main.asc for the
// engine, and its server-side NetConnections use the project's RTMP
// client. Connections to this server itself ("rtmp:/app" or one of our
// RTMP listen addresses) run in-process over a pipe.

func newScriptHost(cfg ssas.Config, log *slog.Logger, srv *rtmp.Server) (*ssas.Host, *scriptDialer) {
	d := &scriptDialer{srv: srv, local: map[string]bool{}}
	return &ssas.Host{Config: cfg, Logger: log, Dialer: d, Version: version}, d
}

// scriptDialer implements ssas.Dialer.
type scriptDialer struct {
	srv   *rtmp.Server
	mu    sync.Mutex
	local map[string]bool // our RTMP listen addresses (host:port)
}

// addLocal records a listen address as this server.
func (d *scriptDialer) addLocal(a net.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.local[a.String()] = true
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		d.local[net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port))] = true
		d.local[net.JoinHostPort("localhost", fmt.Sprint(ta.Port))] = true
	}
}

// IsLocal implements ssas.Dialer.
func (d *scriptDialer) IsLocal(host string) bool {
	if host == "" {
		return true
	}
	if !strings.Contains(host, ":") {
		host = net.JoinHostPort(host, "1935")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.local[host]
}

// Dial implements ssas.Dialer.
func (d *scriptDialer) Dial(ctx context.Context, uri string, addrs []string, args []amf.Value, h ssas.RemoteHandler) (ssas.Remote, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	var nc net.Conn
	if d.IsLocal(u.Host) {
		c1, c2 := net.Pipe()
		go d.srv.ServeConn(context.Background(), c2, "rtmp")
		nc = c1
	} else {
		// The addresses the script host checked, never the name again.
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%s: no checked address to dial", u.Host)
		}
		var dl net.Dialer
		var errs []error
		for _, a := range addrs {
			if nc, err = dl.DialContext(ctx, "tcp", a); err == nil {
				break
			}
			errs = append(errs, err)
		}
		if nc == nil {
			return nil, errors.Join(errs...)
		}
	}
	cl, err := rtmp.NewClient(ctx, nc, rtmp.ClientConfig{FlashVer: "FlashCom/1.5.0 openfcs/" + version})
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	app := strings.TrimPrefix(u.Path, "/")
	tc := "rtmp://" + u.Host + "/" + app
	if u.Host == "" {
		tc = "rtmp://localhost/" + app
	}
	info, ok, err := cl.ConnectInfo(ctx, app, tc, args...)
	if err != nil {
		_ = cl.Close()
		return nil, err
	}
	if !ok {
		_ = cl.Close()
		return nil, &ssas.RejectedError{Info: info}
	}
	rctx, cancel := context.WithCancel(context.Background())
	r := &remote{cl: cl, info: info, ctx: rctx, cancel: cancel}
	r.wg.Add(1)
	go r.serveCalls(h)
	return r, nil
}

// remote implements ssas.Remote over an rtmp.Client.
type remote struct {
	cl     *rtmp.Client
	info   amf.Value // the connect _result's info object
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// serveCalls hands the remote's calls to the script and reports the end.
func (r *remote) serveCalls(h ssas.RemoteHandler) {
	defer r.wg.Done()
	for {
		select {
		case cmd := <-r.cl.Calls:
			if cmd.Name == "onStatus" || cmd.Name == "onBWDone" {
				continue
			}
			txn := cmd.Txn
			var res instance.Result
			if txn != 0 {
				res = func(v amf.Value, ok bool) { _ = r.cl.Reply(txn, v, ok) }
			}
			h.Call(cmd.Name, cmd.Args, res)
		case <-r.cl.Done():
			h.Closed(r.cl.Err())
			return
		case <-r.ctx.Done():
			return
		}
	}
}

// ConnectInfo implements ssas.RemoteInfo.
func (r *remote) ConnectInfo() amf.Value { return r.info }

// Call implements ssas.Remote.
func (r *remote) Call(method string, args []amf.Value, result instance.Result) {
	if result == nil {
		_ = r.cl.Send(method, args...)
		return
	}
	go func() {
		v, ok, err := r.cl.CallInfo(r.ctx, method, args...)
		if err != nil {
			v, ok = status.Info(status.CallFailed, err.Error()), false
		}
		result(v, ok)
	}()
}

// Close implements ssas.Remote.
func (r *remote) Close() {
	r.once.Do(func() {
		r.cancel()
		_ = r.cl.Close()
		r.wg.Wait()
	})
}
