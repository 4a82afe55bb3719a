package ssas

import (
	"errors"
	"html"
	"reflect"
	"strings"
	"testing"
)

// xmlTreeCases are the table of the XML tokenizer: what AS1 scripts
// parse, and the hostile shapes.
var xmlTreeCases = []struct {
	name, in string
	ok       bool
}{
	{"element with attributes", `<a x="1" y='2'>hi</a>`, true},
	{"nested and text", "<r><i n=\"1\"/>t<i n=\"2\">u</i></r>", true},
	{"entities and CDATA", `<m>&lt;&amp;&gt;<![CDATA[<raw>]]></m>`, true},
	{"comment and prolog", `<?xml version="1.0"?><!-- c --><a/>`, true},
	{"lenient: unknown entity, unquoted attribute", `<a v=1>&nbsp;</a>`, true},
	{"namespaced names", `<s:e xmlns:s="u" s:k="v"/>`, true},
	{"two roots", `<a/><b/>`, true},
	{"unclosed", `<a><b></b>`, false},
	{"stray end", `</a>`, false},
	{"too deep", strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1), false},
	{"deep but allowed", strings.Repeat("<a>", maxXMLDepth) + strings.Repeat("</a>", maxXMLDepth), true},
}

func TestParseXMLTree(t *testing.T) {
	for _, tc := range xmlTreeCases {
		nodes, err := parseXMLTree(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if tc.ok {
			checkXMLRoundTrip(t, tc.in, nodes)
		}
	}
	if _, err := parseXMLTree(xmlTreeCases[9].in); !errors.Is(err, errXMLDepth) {
		t.Errorf("too deep: %v, want errXMLDepth", err)
	}
}

// FuzzXMLTree: no panic; no element deeper than the bound; no more nodes
// than input bytes; and a tree without namespaces, written out again,
// parses to itself.
func FuzzXMLTree(f *testing.F) {
	for _, tc := range xmlTreeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		nodes, err := parseXMLTree(in)
		if err != nil {
			return
		}
		if n := countXML(t, nodes, 1); n > len(in)+1 {
			t.Fatalf("%d nodes from %d bytes", n, len(in))
		}
		checkXMLRoundTrip(t, in, nodes)
	})
}

func countXML(t *testing.T, nodes []xmlNode, depth int) int {
	t.Helper()
	if depth > maxXMLDepth+1 {
		t.Fatalf("depth %d past the bound", depth)
	}
	n := len(nodes)
	for _, c := range nodes {
		n += countXML(t, c.children, depth+1)
	}
	return n
}

// checkXMLRoundTrip writes nodes as XML and parses them again. Names with
// a prefix are left out: encoding/xml reports a declared prefix as its
// namespace URL, which is no name.
func checkXMLRoundTrip(t *testing.T, in string, nodes []xmlNode) {
	t.Helper()
	if hasPrefix(nodes) {
		return
	}
	var sb strings.Builder
	writeXML(&sb, nodes)
	again, err := parseXMLTree(sb.String())
	if err != nil {
		t.Fatalf("%q: rewritten as %q, which does not parse: %v", in, sb.String(), err)
	}
	if !reflect.DeepEqual(mergeText(nodes), mergeText(again)) {
		t.Fatalf("%q: rewritten as %q parses differently", in, sb.String())
	}
}

func hasPrefix(nodes []xmlNode) bool {
	for _, n := range nodes {
		if strings.Contains(n.name, ":") || hasPrefix(n.children) {
			return true
		}
		for _, a := range n.attrs {
			if strings.Contains(a.name, ":") {
				return true
			}
		}
	}
	return false
}

func writeXML(sb *strings.Builder, nodes []xmlNode) {
	for _, n := range nodes {
		if !n.elem {
			sb.WriteString(html.EscapeString(n.text))
			continue
		}
		sb.WriteString("<" + n.name)
		for _, a := range n.attrs {
			sb.WriteString(" " + a.name + `="` + html.EscapeString(a.value) + `"`)
		}
		sb.WriteString(">")
		writeXML(sb, n.children)
		sb.WriteString("</" + n.name + ">")
	}
}

// mergeText joins adjacent text nodes (the tokenizer may split one text
// where the input had a CDATA section or an entity) and drops empty ones.
func mergeText(nodes []xmlNode) []xmlNode {
	var out []xmlNode
	for _, n := range nodes {
		if !n.elem {
			if n.text == "" {
				continue
			}
			if len(out) > 0 && !out[len(out)-1].elem {
				out[len(out)-1].text += n.text
				continue
			}
			out = append(out, n)
			continue
		}
		n.children = mergeText(n.children)
		if len(n.attrs) == 0 {
			n.attrs = nil
		}
		out = append(out, n)
	}
	return out
}
