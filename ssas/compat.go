package ssas

import (
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// The compatibility layer of docs/ssas.md#compatibility-with-old-scripts: source rewrites that make
// JavaScript 1.5 scripts mean on goja what they meant on the FCS engine,
// and polyfills for the SpiderMonkey extensions scripts use. Rewrites keep
// every line where it was, so errors point at the author's lines.

// source is a script prepared for compiling.
type source struct {
	name  string
	text  string   // rewritten text
	lines []string // the rewritten text split into lines (for linebuf)
	notes []string // rewrites applied, logged once per file
}

var includeRE = regexp.MustCompile(`(?m)^[ \t]*#include[ \t]+"([^"\n]+)"[ \t]*;?[ \t]*$`)

// prepare normalises and rewrites src: UTF-8 BOM stripped; CR and CRLF
// line ends made LF (goja counts CR as a line end too, but linebuf needs
// one rule); optionally `#include "x"` made load("x"); `const` made `var`
// (JS 1.5 const is function-scoped and re-declaration or assignment was
// silently ignored); function declarations inside blocks made
// `var f = function f(){...};` (JS 1.5 function statements: defined when
// the block runs, visible in the whole function, which goja's ES2015 block
// scoping does not do).
func prepare(name, src string, include bool) source {
	s := source{name: name}
	src = strings.TrimPrefix(src, "\uFEFF")
	if strings.Contains(src, "\r") {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	if include && strings.Contains(src, "#include") {
		src = includeRE.ReplaceAllString(src, `load("$1");`)
		s.notes = append(s.notes, `#include rewritten to load()`)
	}
	prg, err := parser.ParseFile(nil, name, src, 0)
	if err == nil {
		var edits []edit
		w := walker{src: src, edits: &edits}
		w.stmts(prg.Body, true)
		for _, st := range prg.Body {
			w.node(reflect.ValueOf(st))
		}
		if len(edits) > 0 {
			src = apply(src, edits)
			if w.consts > 0 {
				s.notes = append(s.notes, "const rewritten to var")
			}
			if w.funcs > 0 {
				s.notes = append(s.notes, "function declarations in blocks rewritten to var assignments")
			}
		}
	}
	s.text = src
	s.lines = strings.Split(src, "\n")
	return s
}

// line returns source line n (1-based), or "".
func (s *source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return s.lines[n-1]
}

type edit struct {
	at   int // byte offset
	del  int // bytes removed at at
	text string
}

func apply(src string, edits []edit) string {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].at > edits[j].at })
	for _, e := range edits {
		if e.at < 0 || e.at+e.del > len(src) {
			continue
		}
		src = src[:e.at] + e.text + src[e.at+e.del:]
	}
	return src
}

type walker struct {
	src           string
	edits         *[]edit
	consts, funcs int
}

var (
	astPkg      = reflect.TypeFor[ast.Program]().PkgPath()
	funcLitType = reflect.TypeFor[*ast.FunctionLiteral]()
	blockType   = reflect.TypeFor[*ast.BlockStatement]()
	caseType    = reflect.TypeFor[*ast.CaseStatement]()
	lexType     = reflect.TypeFor[*ast.LexicalDeclaration]()
)

// stmts handles one statement list: top is true for a program or function
// body, where declarations are hoisted as JS 1.5 expects.
func (w *walker) stmts(list []ast.Statement, top bool) {
	if top {
		return
	}
	for _, st := range list {
		fd, ok := st.(*ast.FunctionDeclaration)
		if !ok || fd.Function.Name == nil || fd.Function.Async || fd.Function.Generator {
			continue
		}
		start := int(fd.Function.Idx0()) - 1
		end := int(fd.Function.Idx1()) - 1
		if start < 0 || end > len(w.src) || !strings.HasPrefix(w.src[start:], "function") {
			continue
		}
		name := fd.Function.Name.Name.String()
		*w.edits = append(*w.edits, edit{at: start, text: "var " + name + " = "}, edit{at: end, text: ";"})
		w.funcs++
	}
}

// node walks any AST value by reflection.
func (w *walker) node(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.node(v.Elem())
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		switch v.Type() {
		case funcLitType:
			fl := v.Interface().(*ast.FunctionLiteral)
			if fl.Body != nil {
				w.stmts(fl.Body.List, true)
				for _, st := range fl.Body.List {
					w.node(reflect.ValueOf(st))
				}
			}
			return
		case blockType:
			w.stmts(v.Interface().(*ast.BlockStatement).List, false)
		case caseType:
			w.stmts(v.Interface().(*ast.CaseStatement).Consequent, false)
		case lexType:
			ld := v.Interface().(*ast.LexicalDeclaration)
			at := int(ld.Idx) - 1
			if ld.Token == token.CONST && at >= 0 && strings.HasPrefix(w.src[at:], "const") {
				*w.edits = append(*w.edits, edit{at: at, del: 5, text: "var  "})
				w.consts++
			}
		}
		if v.Elem().Kind() == reflect.Struct && v.Elem().Type().PkgPath() == astPkg {
			w.node(v.Elem())
		}
	case reflect.Struct:
		if v.Type().PkgPath() != astPkg {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				w.node(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			w.node(v.Index(i))
		}
	}
}

// polyfills are the SpiderMonkey extensions and Annex B members old
// scripts call that goja lacks (docs/ssas.md#compatibility-with-old-scripts).
const polyfills = `(function(){
var d = function(o, n, f){ Object.defineProperty(o, n, {value: f, writable: true, configurable: true, enumerable: false}); };
var P = Object.prototype;
if (!P.__defineGetter__) {
  d(P, "__defineGetter__", function(n, g){ Object.defineProperty(this, n, {get: g, enumerable: true, configurable: true}); });
  d(P, "__defineSetter__", function(n, s){ Object.defineProperty(this, n, {set: s, enumerable: true, configurable: true}); });
  d(P, "__lookupGetter__", function(n){ for (var o = this; o; o = Object.getPrototypeOf(o)) { var x = Object.getOwnPropertyDescriptor(o, n); if (x) return x.get; } return undefined; });
  d(P, "__lookupSetter__", function(n){ for (var o = this; o; o = Object.getPrototypeOf(o)) { var x = Object.getOwnPropertyDescriptor(o, n); if (x) return x.set; } return undefined; });
}
if (!P.watch) {
  d(P, "watch", function(n, h){ var v = this[n], self = this;
    Object.defineProperty(this, n, {get: function(){ return v; }, set: function(nv){ v = h.call(self, n, v, nv); }, enumerable: true, configurable: true}); });
  d(P, "unwatch", function(n){ var v = this[n]; delete this[n]; this[n] = v; });
}
if (!Date.prototype.getYear) {
  d(Date.prototype, "getYear", function(){ return this.getFullYear() - 1900; });
  d(Date.prototype, "setYear", function(y){ y = Number(y); return this.setFullYear(y >= 0 && y <= 99 ? y + 1900 : y); });
}
if (!String.prototype.trim) { d(String.prototype, "trim", function(){ return this.replace(/^\s+|\s+$/g, ""); }); }
// Legacy RegExp statics (RegExp.$1..$9, lastMatch, leftContext,
// rightContext, input), updated by exec, test, match and replace.
var R = RegExp, exec = R.prototype.exec;
var last = null;
var set = function(m){ if (m) last = m; };
d(R.prototype, "exec", function(s){ var m = exec.call(this, s); set(m); return m; });
d(R.prototype, "test", function(s){ var m = exec.call(this, s); set(m); return m !== null; });
var smatch = String.prototype.match;
d(String.prototype, "match", function(re){ var m = smatch.call(this, re); if (m && !(re instanceof R && re.global)) set(m); else if (m && re instanceof R) { var x = exec.call(new R(re.source, re.flags.replace("g", "")), String(this)); set(x); } return m; });
for (var i = 1; i <= 9; i++) (function(i){ Object.defineProperty(R, "$" + i, {get: function(){ return last && last[i] !== undefined ? last[i] : ""; }, configurable: true}); })(i);
Object.defineProperty(R, "lastMatch", {get: function(){ return last ? last[0] : ""; }, configurable: true});
Object.defineProperty(R, "input", {get: function(){ return last ? last.input : ""; }, configurable: true});
Object.defineProperty(R, "leftContext", {get: function(){ return last ? last.input.substring(0, last.index) : ""; }, configurable: true});
Object.defineProperty(R, "rightContext", {get: function(){ return last ? last.input.substring(last.index + last[0].length) : ""; }, configurable: true});
})();`

var polyfillProgram = goja.MustCompile("ssas-polyfills.js", polyfills, false)
