package ssas

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/dop251/goja"
)

// File, LoadVars and XML (docs/ssas.md#globals-and-other-classes, FMS2), the parts scripts rely on.
// File is confined to the application folder (virtual root "/"); LoadVars
// and XML.load run their HTTP requests on goroutines and post the outcome.

type fileObj struct {
	path string // absolute, inside the app folder
	f    *os.File
	rd   *bufio.Reader
	eof  bool
}

// appPath maps a File path (virtual root "/" = the application folder)
// to a real path, refusing escapes.
func (r *Runtime) appPath(p string) (string, error) {
	if strings.ContainsAny(p, "\x00\\") {
		return "", errors.New("bad path")
	}
	clean := filepath.Clean("/" + filepath.FromSlash(p))
	full := filepath.Join(r.dir, clean)
	rel, err := filepath.Rel(r.dir, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", errors.New("path escapes the application folder")
	}
	// Symlinks must not lead out either (the file may not exist yet:
	// check its folder).
	dir := full
	for {
		if _, err := os.Lstat(dir); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	if !within(r.dir, dir) {
		return "", errors.New("path leads outside the application folder")
	}
	return full, nil
}

func (r *Runtime) setupFile() {
	vm := r.vm
	proto := vm.NewObject()
	get := func(v goja.Value) *fileObj {
		o, ok := v.(*goja.Object)
		if !ok {
			r.throw("not a File")
		}
		f, ok := o.Get("\x00file").Export().(*fileObj)
		if !ok {
			r.throw("not a File")
		}
		return f
	}
	ctor := vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		p, err := r.appPath(call.Argument(0).String())
		if err != nil {
			r.throw("File: %v", err)
		}
		o := call.This
		_ = o.SetPrototype(proto)
		fo := &fileObj{path: p}
		_ = o.DefineDataProperty("\x00file", vm.ToValue(fo), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		rel, _ := filepath.Rel(r.dir, p)
		_ = o.Set("name", "/"+filepath.ToSlash(rel))
		return nil
	}).(*goja.Object)
	_ = ctor.Set("prototype", proto)
	m := func(name string, f func(fo *fileObj, call goja.FunctionCall) goja.Value) {
		_ = proto.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			return f(get(call.This), call)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	acc := func(name string, f func(fo *fileObj) any) {
		_ = proto.DefineAccessorProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			return vm.ToValue(f(get(call.This)))
		}), nil, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	acc("exists", func(fo *fileObj) any { _, err := os.Stat(fo.path); return err == nil })
	acc("isDirectory", func(fo *fileObj) any { fi, err := os.Stat(fo.path); return err == nil && fi.IsDir() })
	acc("isFile", func(fo *fileObj) any { fi, err := os.Stat(fo.path); return err == nil && fi.Mode().IsRegular() })
	acc("isOpen", func(fo *fileObj) any { return fo.f != nil })
	acc("length", func(fo *fileObj) any {
		if fi, err := os.Stat(fo.path); err == nil {
			if fi.IsDir() {
				ents, _ := os.ReadDir(fo.path)
				return len(ents)
			}
			return fi.Size()
		}
		return 0
	})
	acc("eof", func(fo *fileObj) any { return fo.f == nil || fo.eof })
	m("open", func(fo *fileObj, call goja.FunctionCall) goja.Value {
		mode := call.Argument(1).String()
		flag := os.O_RDONLY
		switch {
		case strings.Contains(mode, "append"):
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		case strings.Contains(mode, "create"):
			flag = os.O_RDWR | os.O_CREATE | os.O_TRUNC
		case strings.Contains(mode, "write"):
			flag = os.O_RDWR | os.O_CREATE
		}
		f, err := os.OpenFile(fo.path, flag, 0o644)
		if err != nil {
			return vm.ToValue(false)
		}
		if fo.f != nil {
			_ = fo.f.Close()
		}
		fo.f, fo.rd, fo.eof = f, bufio.NewReader(io.LimitReader(f, int64(r.cfg.MaxFileRead))), false
		return vm.ToValue(true)
	})
	m("close", func(fo *fileObj, _ goja.FunctionCall) goja.Value {
		if fo.f == nil {
			return vm.ToValue(false)
		}
		err := fo.f.Close()
		fo.f, fo.rd = nil, nil
		return vm.ToValue(err == nil)
	})
	m("readln", func(fo *fileObj, _ goja.FunctionCall) goja.Value {
		if fo.rd == nil {
			return goja.Null()
		}
		line, err := fo.rd.ReadString('\n')
		if err != nil {
			fo.eof = true
			if line == "" {
				return goja.Null()
			}
		}
		return vm.ToValue(strings.TrimRight(line, "\r\n"))
	})
	m("read", func(fo *fileObj, call goja.FunctionCall) goja.Value {
		if fo.rd == nil {
			return goja.Null()
		}
		n := int(call.Argument(0).ToInteger())
		if n <= 0 || n > r.cfg.MaxFileRead {
			n = r.cfg.MaxFileRead
		}
		buf := make([]byte, n)
		k, err := io.ReadFull(fo.rd, buf)
		if err != nil {
			fo.eof = true
		}
		return vm.ToValue(string(buf[:k]))
	})
	m("readAll", func(fo *fileObj, _ goja.FunctionCall) goja.Value {
		if fo.rd == nil {
			return goja.Null()
		}
		b, _ := io.ReadAll(fo.rd)
		fo.eof = true
		lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		items := make([]any, len(lines))
		for i, l := range lines {
			items[i] = l
		}
		return vm.NewArray(items...)
	})
	write := func(nl bool) func(fo *fileObj, call goja.FunctionCall) goja.Value {
		return func(fo *fileObj, call goja.FunctionCall) goja.Value {
			if fo.f == nil {
				return vm.ToValue(false)
			}
			var sb strings.Builder
			for _, a := range call.Arguments {
				sb.WriteString(a.String())
				if nl {
					sb.WriteString("\n")
				}
			}
			_, err := fo.f.WriteString(sb.String())
			return vm.ToValue(err == nil)
		}
	}
	m("write", write(false))
	m("writeln", write(true))
	m("flush", func(fo *fileObj, _ goja.FunctionCall) goja.Value {
		return vm.ToValue(fo.f != nil && fo.f.Sync() == nil)
	})
	// list(filter) returns File objects, as FMS does, for the entries
	// whose name filter(name) accepts (all without a filter).
	m("list", func(fo *fileObj, call goja.FunctionCall) goja.Value {
		ents, err := os.ReadDir(fo.path)
		if err != nil {
			return goja.Null()
		}
		filter, _ := goja.AssertFunction(call.Argument(0))
		rel, _ := filepath.Rel(r.dir, fo.path)
		items := make([]any, 0, len(ents))
		for _, e := range ents {
			if filter != nil {
				ok, err := filter(goja.Undefined(), vm.ToValue(e.Name()))
				if err != nil {
					panic(err)
				}
				if !ok.ToBoolean() {
					continue
				}
			}
			f, err := vm.New(ctor, vm.ToValue(path.Join("/", filepath.ToSlash(rel), e.Name())))
			if err != nil {
				panic(err)
			}
			items = append(items, f)
		}
		return vm.NewArray(items...)
	})
	m("mkdir", func(fo *fileObj, call goja.FunctionCall) goja.Value {
		p, err := r.appPath(call.Argument(0).String())
		if err != nil {
			return vm.ToValue(false)
		}
		rel, _ := filepath.Rel(r.dir, fo.path)
		p = filepath.Join(r.dir, rel, strings.TrimPrefix(p, r.dir))
		return vm.ToValue(os.MkdirAll(p, 0o755) == nil)
	})
	m("remove", func(fo *fileObj, call goja.FunctionCall) goja.Value {
		if call.Argument(0).ToBoolean() {
			return vm.ToValue(os.RemoveAll(fo.path) == nil)
		}
		return vm.ToValue(os.Remove(fo.path) == nil)
	})
	m("renameTo", func(fo *fileObj, call goja.FunctionCall) goja.Value {
		p, err := r.appPath(call.Argument(0).String())
		if err != nil || os.Rename(fo.path, p) != nil {
			return vm.ToValue(false)
		}
		fo.path = p
		return vm.ToValue(true)
	})
	m("copyTo", func(fo *fileObj, call goja.FunctionCall) goja.Value {
		p, err := r.appPath(call.Argument(0).String())
		if err != nil {
			return vm.ToValue(false)
		}
		b, err := os.ReadFile(fo.path)
		if err != nil || len(b) > r.cfg.MaxFileRead {
			return vm.ToValue(false)
		}
		return vm.ToValue(os.WriteFile(p, b, 0o644) == nil)
	})
	_ = vm.Set("File", ctor)
}

// ---------------------------------------------------------------------------
// LoadVars

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
// size, to allowed destinations only.
func (r *Runtime) httpDo(u *url.URL, method, body string) (int, string, error) {
	if !r.allowedHost(u.Hostname()) {
		return 0, "", errors.New("destination not allowed")
	}
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
	resp, err := http.DefaultClient.Do(req)
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

// ---------------------------------------------------------------------------
// XML: the AS1 DOM, written in script over a Go tokenizer.

// xmlTokens parses text into a nested array tree for the script DOM:
// element = [1, name, {attrs}, [children]], text = [3, value].
func (r *Runtime) xmlTokens(text string) goja.Value {
	vm := r.vm
	dec := xml.NewDecoder(strings.NewReader(text))
	dec.Strict = false
	type frame struct {
		name     string
		attrs    *goja.Object
		children []any
	}
	stack := []*frame{{}}
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return goja.Null()
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			a := vm.NewObject()
			for _, at := range t.Attr {
				name := at.Name.Local
				if at.Name.Space != "" {
					name = at.Name.Space + ":" + name
				}
				_ = a.Set(name, at.Value)
			}
			name := t.Name.Local
			if t.Name.Space != "" {
				name = t.Name.Space + ":" + name
			}
			stack = append(stack, &frame{name: name, attrs: a})
		case xml.EndElement:
			if len(stack) < 2 {
				return goja.Null()
			}
			stack = stack[:len(stack)-1]
			parent := stack[len(stack)-1]
			parent.children = append(parent.children, vm.NewArray(1, top.name, top.attrs, vm.NewArray(top.children...)))
		case xml.CharData:
			top.children = append(top.children, vm.NewArray(3, string(t)))
		}
		if len(stack) > 256 {
			return goja.Null()
		}
	}
	if len(stack) != 1 {
		return goja.Null()
	}
	return vm.NewArray(stack[0].children...)
}

const xmlClass = `(function(tok){
function XMLNode(type, value) {
  this.nodeType = type; this.childNodes = []; this.attributes = {};
  this.parentNode = null; this.firstChild = null; this.lastChild = null;
  this.nextSibling = null; this.previousSibling = null;
  if (type == 1) { this.nodeName = value; this.nodeValue = null; } else { this.nodeName = null; this.nodeValue = value; }
}
XMLNode.prototype.appendChild = function(n) {
  if (n.parentNode) n.removeNode();
  var last = this.lastChild; n.parentNode = this; n.previousSibling = last; n.nextSibling = null;
  if (last) last.nextSibling = n; else this.firstChild = n;
  this.lastChild = n; this.childNodes.push(n); return n;
};
XMLNode.prototype.removeNode = function() {
  var p = this.parentNode; if (!p) return;
  var i = p.childNodes.indexOf(this); if (i >= 0) p.childNodes.splice(i, 1);
  if (this.previousSibling) this.previousSibling.nextSibling = this.nextSibling; else p.firstChild = this.nextSibling;
  if (this.nextSibling) this.nextSibling.previousSibling = this.previousSibling; else p.lastChild = this.previousSibling;
  this.parentNode = this.nextSibling = this.previousSibling = null;
};
XMLNode.prototype.hasChildNodes = function() { return this.childNodes.length > 0; };
XMLNode.prototype.cloneNode = function(deep) {
  var c = new XMLNode(this.nodeType, this.nodeType == 1 ? this.nodeName : this.nodeValue);
  for (var k in this.attributes) c.attributes[k] = this.attributes[k];
  if (deep) for (var i = 0; i < this.childNodes.length; i++) c.appendChild(this.childNodes[i].cloneNode(true));
  return c;
};
var esc = function(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"); };
XMLNode.prototype.toString = function() {
  if (this.nodeType == 3) return esc(this.nodeValue);
  var s = "";
  if (this.nodeName != null) { s = "<" + this.nodeName; for (var k in this.attributes) s += " " + k + "=\"" + esc(this.attributes[k]) + "\""; if (!this.childNodes.length) return s + " />"; s += ">"; }
  for (var i = 0; i < this.childNodes.length; i++) s += this.childNodes[i].toString();
  if (this.nodeName != null) s += "</" + this.nodeName + ">";
  return s;
};
function build(parent, list, ignoreWhite) {
  for (var i = 0; i < list.length; i++) {
    var t = list[i];
    if (t[0] == 1) { var n = new XMLNode(1, t[1]); n.attributes = t[2]; parent.appendChild(n); build(n, t[3], ignoreWhite); }
    else if (!(ignoreWhite && /^\s*$/.test(t[1]))) parent.appendChild(new XMLNode(3, t[1]));
  }
}
function XML(text) { XMLNode.call(this, 1, null); this.nodeName = null; this.status = 0; this.loaded = false; this.ignoreWhite = false; if (text !== undefined) this.parseXML(text); }
XML.prototype = Object.create(XMLNode.prototype);
XML.prototype.constructor = XML;
XML.prototype.parseXML = function(text) {
  while (this.firstChild) this.firstChild.removeNode();
  var t = tok(String(text)); if (t === null) { this.status = -1; return; }
  this.status = 0; build(this, t, this.ignoreWhite);
};
XML.prototype.createElement = function(n) { return new XMLNode(1, n); };
XML.prototype.createTextNode = function(v) { return new XMLNode(3, v); };
XML.prototype.onData = function(src) { if (src === undefined) { this.onLoad(false); return; } this.parseXML(src); this.loaded = true; this.onLoad(this.status == 0); };
XML.prototype.onLoad = function(ok) {};
this.XML = XML; this.XMLNode = XMLNode;
})`

func (r *Runtime) setupXML() {
	vm := r.vm
	v, err := vm.RunString(xmlClass)
	if err != nil {
		r.log.Error("XML class", "err", err)
		return
	}
	fn, _ := goja.AssertFunction(v)
	if _, err := fn(vm.GlobalObject(), vm.ToValue(r.xmlTokens)); err != nil {
		r.log.Error("XML class", "err", err)
		return
	}
	proto := vm.Get("XML").ToObject(vm).Get("prototype").ToObject(vm)
	load := func(method string) func(call goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			o := call.This.ToObject(vm)
			target := o
			body := ""
			if method == http.MethodPost {
				body = o.String()
				if t, ok := call.Argument(1).(*goja.Object); ok {
					target = t
				}
			}
			u, err := url.Parse(call.Argument(0).String())
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return vm.ToValue(false)
			}
			r.bg.Go(func() {
				_, text, err := r.httpDo(u, method, body)
				r.post(func() {
					arg := goja.Undefined()
					if err == nil {
						arg = vm.ToValue(text)
					}
					_, _, _ = r.callHandler("onData", target, arg)
				})
			})
			return vm.ToValue(true)
		}
	}
	_ = proto.Set("load", load(http.MethodGet))
	_ = proto.Set("sendAndLoad", load(http.MethodPost))
}
