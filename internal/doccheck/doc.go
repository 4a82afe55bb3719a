// Package doccheck keeps the project's documentation citations true. Its
// test walks the repository and fails when a comment, a README,
// openfcs.yaml or a page of docs/ cites a docs/ file or heading that does
// not exist (headings are matched by their GitHub anchors), when a file
// cites a document by section number instead of a docs/ link, or when code
// or documentation mentions a tracker issue by number: the reason for a
// rule belongs where the rule is written. A second test keeps status codes
// spelled out only in package status. Both are part of the unit tests, so
// `make test` runs them.
//
// The package has no code besides its test and the anchor rules below.
package doccheck

import (
	"strconv"
	"strings"
	"unicode"
)

// Anchor returns the anchor GitHub gives a Markdown heading's text: inline
// code marks and link targets dropped, lower case, every character that
// is not a letter, a digit, a space, '-' or '_' removed, spaces made '-'.
func Anchor(heading string) string {
	heading = stripLinks(heading)
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripLinks replaces [text](target) with text.
func stripLinks(s string) string {
	for {
		i := strings.Index(s, "](")
		if i < 0 {
			return s
		}
		open := strings.LastIndex(s[:i], "[")
		end := strings.Index(s[i:], ")")
		if open < 0 || end < 0 {
			return s
		}
		s = s[:open] + s[open+1:i] + s[i+end+1:]
	}
}

// Anchors returns the anchors of every heading of a Markdown document, in
// order, with GitHub's suffixes for repeated headings ("-1", "-2"), plus
// explicit <a id="..."> or <a name="..."> targets. Headings inside fenced
// code blocks are not headings.
func Anchors(markdown string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	fence := ""
	for line := range strings.Lines(markdown) {
		line = strings.TrimRight(line, "\r\n")
		trim := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trim, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~") {
			fence = trim[:3]
			continue
		}
		for _, attr := range []string{`<a id="`, `<a name="`} {
			rest := line
			for {
				i := strings.Index(rest, attr)
				if i < 0 {
					break
				}
				rest = rest[i+len(attr):]
				if j := strings.IndexByte(rest, '"'); j >= 0 {
					out[rest[:j]] = true
				}
			}
		}
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if len(line)-len(text) > 6 || (text != "" && text[0] != ' ') {
			continue
		}
		a := Anchor(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(text), "#")))
		if n := seen[a]; n > 0 {
			seen[a] = n + 1
			a = a + "-" + strconv.Itoa(n)
		} else {
			seen[a] = 1
		}
		out[a] = true
	}
	return out
}
