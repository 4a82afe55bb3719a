package status

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

// TestEveryCodeInTable: every code constant of status.go has a level and a
// default description, and the table holds nothing else, so adding a code
// without its level fails here.
func TestEveryCodeInTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "status.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if strings.HasPrefix(vs.Names[0].Name, "Level") {
				continue
			}
			code, err := strconv.Unquote(vs.Values[0].(*ast.BasicLit).Value)
			if err != nil {
				t.Fatal(err)
			}
			n++
			e, ok := table[code]
			switch {
			case !ok:
				t.Errorf("%s (%s) has no table entry", vs.Names[0].Name, code)
			case e.level != LevelStatus && e.level != LevelWarning && e.level != LevelError:
				t.Errorf("%s: level %q", code, e.level)
			case e.desc == "" || !strings.HasSuffix(e.desc, "."):
				t.Errorf("%s: description %q", code, e.desc)
			}
			prefix, _, _ := strings.Cut(code, ".")
			switch prefix {
			case "NetConnection", "NetStream", "SharedObject", "Application":
			default:
				t.Errorf("%s: unknown class %q", code, prefix)
			}
		}
	}
	if n != len(table) {
		t.Errorf("%d code constants, %d table entries", n, len(table))
	}
}

func TestInfo(t *testing.T) {
	for _, tc := range []struct {
		code, desc      string
		level, wantDesc string
	}{
		{PlayStart, "Started playing x.", LevelStatus, "Started playing x."},
		{PlayInsufficientBW, "", LevelWarning, "Insufficient bandwidth: video is being dropped."},
		{ConnectRejected, "", LevelError, "Connection rejected."},
		{"NetStream.Made.Up", "remote", LevelStatus, "remote"},
	} {
		v := Info(tc.code, tc.desc, amf.Prop{Key: "details", Value: amf.String("x")})
		props := v.Props()
		if len(props) != 4 || props[0].Key != "level" || props[1].Key != "code" || props[2].Key != "description" || props[3].Key != "details" {
			t.Fatalf("%s: properties %v, want level, code, description, details", tc.code, props)
		}
		if props[0].Value.Str() != tc.level || props[1].Value.Str() != tc.code || props[2].Value.Str() != tc.wantDesc {
			t.Errorf("%s: got %s %s %q", tc.code, props[0].Value.Str(), props[1].Value.Str(), props[2].Value.Str())
		}
	}
	if Known("NetStream.Made.Up") || !Known(ClearFailed) {
		t.Error("Known")
	}
}

func TestError(t *testing.T) {
	err := error(&Error{Code: PlayFailed, Description: "nope", Err: io.EOF})
	if !errors.Is(err, io.EOF) || err.Error() != "NetStream.Play.Failed: nope: EOF" {
		t.Fatalf("%v", err)
	}
	if se, ok := errors.AsType[*Error](err); !ok || se.Code != PlayFailed {
		t.Fatal("AsType")
	}
}
