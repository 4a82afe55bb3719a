package ssas

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/dop251/goja"
)

// LoadVars (docs/ssas.md#globals-and-other-classes, FMS2): URL-encoded
// variables loaded and sent over HTTP on goroutines; the outcome is posted
// to the loop.

func (r *Runtime) setupLoadVars() {
	vm := r.vm
	proto := vm.NewObject()
	ctor := vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		_ = call.This.SetPrototype(proto)
		return nil
	}).(*goja.Object)
	_ = ctor.Set("prototype", proto)
	encode := func(o *goja.Object) string {
		v := url.Values{}
		for _, k := range o.Keys() {
			pv := o.Get(k)
			if _, fn := goja.AssertFunction(pv); fn || strings.HasPrefix(k, "\x00") {
				continue
			}
			v.Set(k, pv.String())
		}
		return v.Encode()
	}
	decode := func(o *goja.Object, s string) {
		v, _ := url.ParseQuery(strings.TrimSpace(s))
		for k, vs := range v {
			if len(vs) > 0 {
				_ = o.Set(k, vs[len(vs)-1])
			}
		}
	}
	_ = proto.Set("toString", func(call goja.FunctionCall) goja.Value {
		return vm.ToValue(encode(call.This.ToObject(vm)))
	})
	_ = proto.Set("decode", func(call goja.FunctionCall) goja.Value {
		decode(call.This.ToObject(vm), call.Argument(0).String())
		return goja.Undefined()
	})
	// onData's default decodes into the object and calls onLoad (as in AS).
	_ = proto.Set("onData", func(call goja.FunctionCall) goja.Value {
		o := call.This.ToObject(vm)
		src := call.Argument(0)
		ok := !goja.IsUndefined(src) && !goja.IsNull(src)
		if ok {
			decode(o, src.String())
			_ = o.Set("loaded", true)
		}
		_, _, _ = r.callHandler("onLoad", o, vm.ToValue(ok))
		return goja.Undefined()
	})
	req := func(o *goja.Object, target *goja.Object, rawURL, method string, body string) bool {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return false
		}
		r.bg.Go(func() {
			status, text, err := r.httpDo(u, method, body)
			r.post(func() {
				if status != 0 {
					_, _, _ = r.callHandler("onHTTPStatus", target, vm.ToValue(status))
				}
				arg := goja.Undefined()
				if err == nil {
					arg = vm.ToValue(text)
				}
				_, _, _ = r.callHandler("onData", target, arg)
			})
		})
		return true
	}
	_ = proto.Set("load", func(call goja.FunctionCall) goja.Value {
		o := call.This.ToObject(vm)
		return vm.ToValue(req(o, o, call.Argument(0).String(), http.MethodGet, ""))
	})
	_ = proto.Set("send", func(call goja.FunctionCall) goja.Value {
		o := call.This.ToObject(vm)
		return vm.ToValue(req(o, vm.NewObject(), call.Argument(0).String(), http.MethodPost, encode(o)))
	})
	_ = proto.Set("sendAndLoad", func(call goja.FunctionCall) goja.Value {
		o := call.This.ToObject(vm)
		target, ok := call.Argument(1).(*goja.Object)
		if !ok {
			target = o
		}
		method := strings.ToUpper(call.Argument(2).String())
		if method != http.MethodGet {
			method = http.MethodPost
		}
		u := call.Argument(0).String()
		body := encode(o)
		if method == http.MethodGet {
			if strings.Contains(u, "?") {
				u += "&" + body
			} else {
				u += "?" + body
			}
			body = ""
		}
		return vm.ToValue(req(o, target, u, method, body))
	})
	_ = vm.Set("LoadVars", ctor)
}

// httpDo runs one LoadVars/XML request off the loop, bounded in time and
// size, through the runtime's guarded client: the destination rule
// applies to the first request and to every redirect hop, at the address
// actually dialed (httpguard.go).
func (r *Runtime) httpDo(u *url.URL, method, body string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.HTTPTimeout)
	defer cancel()
	go func() {
		select {
		case <-r.stopBG:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := r.httpClient().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(r.cfg.MaxFileRead)))
	if err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode >= 400 {
		return resp.StatusCode, "", errors.New(resp.Status)
	}
	return resp.StatusCode, string(b), nil
}
