package doccheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checked is what the walk reads: source, scripts, build files and prose.
func checked(name string) bool {
	switch filepath.Ext(name) {
	case ".go", ".md", ".yaml", ".yml", ".asc", ".js", ".ts", ".html", ".sh":
		return true
	}
	return name == "Makefile"
}

// skipped folders: not ours, generated, or test inputs that are data.
var skipped = map[string]bool{".git": true, "node_modules": true, "testdata": true, "bin": true, "vendor": true}

var (
	// docsRef is a citation of a page of docs/: "docs/<page>.md",
	// "../docs/<page>.md", with an optional anchor. What precedes it must not
	// be part of a longer path (shared/docs/<page>.md is somebody else's
	// docs folder).
	docsRef = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])((?:\.\./)*|\./)docs/([A-Za-z0-9_.-]+\.md)(#[A-Za-z0-9_-]*)?`)
	// mdLink is a Markdown link's target.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// section is a citation by section number ("rtmp.md §7.2", "§3.3",
	// "rtmp.md 3.6"). rfc is the exception: RFCs are public and stable, so
	// "RFC 6455 §7.4.1" is a fine citation.
	section = regexp.MustCompile(`(RFC\s*\d+\s*)?(§\s*\d|\.md\s+\d+\.\d)`)
	// issue is a mention of a tracker issue by number.
	issue = regexp.MustCompile(`(?i)\bissues?\s*#?\s*\d+`)
	// bareDoc is a protocol note named without its docs/ folder.
	bareDoc = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])((?:rtmp|rtmpt|amf|flv|shared-objects|ssas|style|architecture)\.md)\b`)
)

// repoRoot is the folder holding go.mod, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// anchorCache reads the anchors of Markdown files once.
type anchorCache map[string]map[string]bool

func (c anchorCache) get(path string) (map[string]bool, bool) {
	if a, ok := c[path]; ok {
		return a, a != nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		c[path] = nil
		return nil, false
	}
	c[path] = Anchors(string(b))
	return c[path], true
}

// problems checks one file's text; rel is its path from the root.
func problems(root, rel, text string, anchors anchorCache) []string {
	var out []string
	isMD := strings.HasSuffix(rel, ".md")
	inDocs := strings.HasPrefix(rel, "docs/")
	for n, line := range strings.Split(text, "\n") {
		at := fmt.Sprintf("%s:%d", rel, n+1)
		for _, m := range docsRef.FindAllStringSubmatch(line, -1) {
			file, anchor := m[3], strings.TrimPrefix(m[4], "#")
			if isMD && m[2] != "" {
				// A relative link: it must reach the repository's docs/.
				if filepath.Clean(filepath.Join(filepath.Dir(rel), m[2]+"docs")) != "docs" {
					out = append(out, fmt.Sprintf("%s: %s%sdocs/%s does not lead to the repository's docs/", at, "", m[2], file))
					continue
				}
			}
			out = append(out, checkTarget(at, filepath.Join(root, "docs", file), "docs/"+file, anchor, anchors)...)
		}
		if isMD {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.Contains(target, "docs/") && !inDocs {
					continue // external, or a docs/ citation checked above
				}
				path, anchor, _ := strings.Cut(target, "#")
				var full string
				if path == "" {
					full = filepath.Join(root, rel)
				} else {
					full = filepath.Join(root, filepath.Dir(rel), path)
				}
				if !strings.HasSuffix(full, ".md") {
					if _, err := os.Stat(full); err != nil {
						out = append(out, fmt.Sprintf("%s: link to %s: no such file", at, target))
					}
					continue
				}
				out = append(out, checkTarget(at, full, target, anchor, anchors)...)
			}
		}
		for _, m := range section.FindAllStringSubmatch(line, -1) {
			if m[1] == "" {
				out = append(out, fmt.Sprintf("%s: cites a section number (%q); cite docs/<file>.md#<heading>", at, strings.TrimSpace(line)))
				break
			}
		}
		if issue.MatchString(line) {
			out = append(out, fmt.Sprintf("%s: mentions a tracker issue (%q); say the reason instead", at, issue.FindString(line)))
		}
		if !isMD {
			for _, m := range bareDoc.FindAllStringSubmatch(line, -1) {
				out = append(out, fmt.Sprintf("%s: cites %s without its folder; cite docs/%s#<heading>", at, m[2], m[2]))
			}
		}
	}
	return out
}

// pending lists pages of docs/ that engineers working now have announced
// and cited but not landed yet: citations of them pass until they exist,
// then the entry must go (TestCitations fails while a listed page exists),
// so the list cannot hide a missing page for long.
var pending = map[string]bool{}

// checkTarget reports a missing file or anchor.
func checkTarget(at, full, shown, anchor string, anchors anchorCache) []string {
	a, ok := anchors.get(full)
	if !ok {
		if pending[filepath.ToSlash(strings.TrimPrefix(shown, "../"))] {
			return nil
		}
		return []string{fmt.Sprintf("%s: %s does not exist", at, shown)}
	}
	if anchor != "" && !a[anchor] {
		return []string{fmt.Sprintf("%s: %s has no heading with anchor #%s", at, shown, anchor)}
	}
	return nil
}

// TestCitations walks the repository and checks every citation.
func TestCitations(t *testing.T) {
	root := repoRoot(t)
	anchors := anchorCache{}
	var all []string
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (skipped[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !checked(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "internal/doccheck/doccheck_test.go" || rel == "internal/doccheck/doc.go" {
			return nil // its own patterns and examples
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		all = append(all, problems(root, rel, string(b), anchors)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for page := range pending {
		if _, err := os.Stat(filepath.Join(root, page)); err == nil {
			all = append(all, fmt.Sprintf("%s exists now: remove it from doccheck's pending list", page))
		}
	}
	if files < 100 {
		t.Fatalf("read only %d files under %s: the walk is broken", files, root)
	}
	slices.Sort(all)
	for _, p := range all {
		t.Error(p)
	}
}

// TestAnchorRules: the anchors GitHub makes, and what the checker flags,
// on known cases.
func TestAnchorRules(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"C0 and S0", "c0-and-s0"},
		{"Encoder commands", "encoder-commands"},
		{"`load(path)`", "loadpath"},
		{"application.yaml", "applicationyaml"},
		{"createStream, deleteStream, closeStream", "createstream-deletestream-closestream"},
		{"Ports & URLs", "ports--urls"},
		{"See [flv.md](flv.md) now", "see-flvmd-now"},
		{"snake_case key", "snake_case-key"},
	} {
		if got := Anchor(tc.heading); got != tc.want {
			t.Errorf("Anchor(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
	doc := "# Title\n## Same\n```\n# not a heading\n```\n## Same\n<a id=\"x-y\"></a>\n#nospace\n"
	got := Anchors(doc)
	for _, want := range []string{"title", "same", "same-1", "x-y"} {
		if !got[want] {
			t.Errorf("Anchors: no %q in %v", want, got)
		}
	}
	for _, bad := range []string{"not-a-heading", "nospace"} {
		if got[bad] {
			t.Errorf("Anchors: %q should not be an anchor", bad)
		}
	}
}

// TestProblemsFlagged: each rule fires on a bad line and stays quiet on a
// good one, so the walk above cannot pass by checking nothing.
func TestProblemsFlagged(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "docs", "rtmp.md"), []byte("# RTMP\n## Chunk stream\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	anchors := anchorCache{}
	// The bad inputs are spliced so that this file does not itself carry
	// the citations and references that the repository's checks refuse.
	const md = ".md"
	for _, tc := range []struct {
		rel, text string
		bad       bool
	}{
		{"a.go", "// see docs/rtmp.md#chunk-stream", false},
		{"a.go", "// see docs/rtmp.md", false},
		{"a.go", "// see docs/rtmp.md#no-such-heading", true},
		{"a.go", "// see docs/nope" + md, true},
		{"a.go", "// see rtmp.md §3.2", true},
		{"a.go", "// lenient (§3.2)", true},
		{"a.go", `{"docs/rtmp.md 3.6 Acknowledgement", ...}`, true},
		{"a.go", "// Close codes (RFC 6455 §7.4.1).", false},
		{"a.go", "// Close codes (RFC 6455 §7.4.1), see also §3.2.", true},
		{"a.go", "// see rtmp.md for the rules", true},
		{"a.go", "// as issue" + " 3 asked", true},
		{"a.go", "// path: /work/shared/docs/rtmp.md is not ours", false},
		{"README.md", "[chunks](docs/rtmp.md#chunk-stream)", false},
		{"README.md", "[chunks](docs/rtmp.md#chunks)", true},
		{"tunnel/README.md", "[rtmpt](../docs/rtmp.md)", false},
		{"docs/x" + md, "[rtmp](rtmp.md#chunk-stream)", false},
		{"docs/x" + md, "[rtmp](rtmp.md#nope)", true},
		{"docs/x" + md, "[missing](missing" + md + ")", true},
	} {
		got := problems(root, tc.rel, tc.text, anchors)
		if (len(got) > 0) != tc.bad {
			t.Errorf("%s %q: problems %v, want bad=%v", tc.rel, tc.text, got, tc.bad)
		}
	}
}

// codeLiteral is a status code spelled out as a Go string.
var codeLiteral = regexp.MustCompile(`"(?:NetConnection|NetStream|SharedObject|Application)\.[A-Z][A-Za-z.]*"`)

// TestStatusCodesOnlyInStatus: status codes are named once, in package
// status (docs/rtmp.md#status-codes); code elsewhere uses the names, so a
// code cannot be misspelled or sent with another level. Tests may spell
// codes out: they check what goes on the wire.
func TestStatusCodesOnlyInStatus(t *testing.T) {
	root := repoRoot(t)
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (skipped[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "status/") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for i, line := range strings.Split(string(b), "\n") {
			if m := codeLiteral.FindString(line); m != "" {
				t.Errorf("%s:%d: %s spelled out; use its name in package status", rel, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("read only %d Go files: the walk is broken", n)
	}
}
