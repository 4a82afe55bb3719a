package ssas

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/dop251/goja"
)

// XML (docs/ssas.md#globals-and-other-classes, FMS2): the AS1 DOM, written
// in script over a Go tokenizer; load and sendAndLoad go through httpDo.

// maxXMLDepth bounds element nesting in XML.parseXML: the script DOM is
// built recursively.
const maxXMLDepth = 256

// xmlNode is one node of a parsed document: an element (elem true, with
// its name, attributes in document order and children) or a text node.
type xmlNode struct {
	elem     bool
	name     string // element name, "prefix:local" when namespaced
	text     string // text node value
	attrs    []xmlAttr
	children []xmlNode
}

type xmlAttr struct{ name, value string }

var errXMLDepth = errors.New("xml: elements nested too deep")

// parseXMLTree parses text the lenient way AS1's XML did (unknown
// entities and unquoted attributes are accepted) into its top-level
// nodes. Comments, processing instructions and the doctype are left out;
// CDATA becomes text. A document that is not well-formed, or nests
// deeper than maxXMLDepth, is an error. Pure: no script values.
func parseXMLTree(text string) ([]xmlNode, error) {
	dec := xml.NewDecoder(strings.NewReader(text))
	dec.Strict = false
	qname := func(n xml.Name) string {
		if n.Space != "" {
			return n.Space + ":" + n.Local
		}
		return n.Local
	}
	stack := []*xmlNode{{}}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, errXMLDepth
			}
			n := &xmlNode{elem: true, name: qname(t.Name), attrs: make([]xmlAttr, 0, len(t.Attr))}
			for _, a := range t.Attr {
				n.attrs = append(n.attrs, xmlAttr{qname(a.Name), a.Value})
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) < 2 {
				return nil, errors.New("xml: end element without a start")
			}
			stack = stack[:len(stack)-1]
			parent := stack[len(stack)-1]
			parent.children = append(parent.children, *top)
		case xml.CharData:
			top.children = append(top.children, xmlNode{text: string(t)})
		}
	}
	if len(stack) != 1 {
		return nil, errors.New("xml: unclosed element")
	}
	return stack[0].children, nil
}

// xmlTokens parses text into a nested array tree for the script DOM:
// element = [1, name, {attrs}, [children]], text = [3, value]; null when
// the text does not parse.
func (r *Runtime) xmlTokens(text string) goja.Value {
	nodes, err := parseXMLTree(text)
	if err != nil {
		return goja.Null()
	}
	return r.xmlArrays(nodes)
}

func (r *Runtime) xmlArrays(nodes []xmlNode) goja.Value {
	vm := r.vm
	items := make([]any, len(nodes))
	for i, n := range nodes {
		if !n.elem {
			items[i] = vm.NewArray(3, n.text)
			continue
		}
		a := vm.NewObject()
		for _, at := range n.attrs {
			_ = a.Set(at.name, at.value)
		}
		items[i] = vm.NewArray(1, n.name, a, r.xmlArrays(n.children))
	}
	return vm.NewArray(items...)
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
