package main

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Checks of openfcs.yaml that speak in its own terms: a misspelled or
// misplaced key is named by its dotted path and line, a value of the wrong
// kind by its key and what the key wants, never by a Go type.

// keyError is one problem of a configuration file, at a line.
type keyError struct {
	line int
	msg  string
}

// keyErrors are every problem checkYAML found.
type keyErrors []keyError

func (e keyErrors) Error() string { return e.in("line ") }

// in formats the problems one per line, each prefixed with where (a file
// name and colon, or "line ").
func (e keyErrors) in(where string) string {
	lines := make([]string, len(e))
	for i, k := range e {
		lines[i] = fmt.Sprintf("%s%d: %s", where, k.line, k.msg)
	}
	return strings.Join(lines, "\n")
}

// maxYAMLDepth and maxYAMLNodes bound the walk: aliases may point back up
// the tree, or fan out exponentially ("billion laughs").
const (
	maxYAMLDepth = 32
	maxYAMLNodes = 100_000
)

// checkYAML walks the document against the type of cfg: every key must
// name a field and every value must decode into it.
func checkYAML(b []byte, cfg any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil // empty document
	}
	w := &yamlWalk{}
	w.walk(doc.Content[0], reflect.TypeOf(cfg).Elem(), "", 0)
	if len(w.errs) > 0 {
		return w.errs
	}
	return nil
}

// yamlWalk collects the problems of one document.
type yamlWalk struct {
	errs  keyErrors
	nodes int
}

func (w *yamlWalk) add(line int, format string, args ...any) {
	w.errs = append(w.errs, keyError{line, fmt.Sprintf(format, args...)})
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (w *yamlWalk) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	w.nodes++
	if depth > maxYAMLDepth || w.nodes > maxYAMLNodes {
		if w.nodes <= maxYAMLNodes+1 {
			w.add(n.Line, "%s: nested too deep or too many values (aliases?)", orTop(path))
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with nothing: the default
	}
	custom := reflect.PointerTo(t).Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)
	switch {
	case custom:
		// A type that decodes itself: only decoding tells.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.add(n.Line, "%s: %v", orTop(path), err)
		}
	case t.Kind() == reflect.Struct && t != durationType:
		if n.Kind != yaml.MappingNode {
			w.add(n.Line, "%s: want a section of keys, not %q", orTop(path), n.Value)
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				// "<<: *anchor" merges a mapping (or a list of them) here.
				if v.Kind == yaml.SequenceNode {
					for _, m := range v.Content {
						w.walk(m, t, path, depth+1)
					}
				} else {
					w.walk(v, t, path, depth+1)
				}
				continue
			}
			key := join(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				w.add(k.Line, "unknown key %q", key)
				continue
			}
			w.walk(v, f.Type, key, depth+1)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.add(n.Line, "%s: want a map of keys, not %q", orTop(path), n.Value)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), depth+1)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, e := range n.Content {
			w.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.add(n.Line, "%s: %q is not %s", orTop(path), n.Value, describe(t))
		}
	}
}

// yamlFields maps the YAML keys of a struct to its fields, as yaml.v3
// names them: the tag's name, else the lowercased field name.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for f := range t.Fields() {
		if name, ok := yamlName(f); ok {
			out[name] = f
		}
	}
	return out
}

// yamlName is the key of a struct field, false for fields YAML skips.
func yamlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		name = strings.ToLower(f.Name)
	}
	return name, true
}

// describe says what a value of t looks like in YAML.
func describe(t reflect.Type) string {
	if t == durationType {
		return "a duration (such as 500ms, 10s or 1m30s)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describe(t.Elem()), "a ")
	}
	return "valid here"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

// negativeMeans lists the keys for which a negative number means
// something; for every other count, size or duration it is an error.
var negativeMeans = map[string]string{
	"session.merge_write":                   "off",
	"session.ingest_tick":                   "off",
	"session.park_after":                    "never",
	"session.close_drain":                   "close at once",
	"instance.media.gop_cache_max_packets":  "off",
	"instance.media.gop_cache_max_bytes":    "off",
	"instance.shared_objects.app_budget":    "no limit",
	"instance.shared_objects.server_budget": "no limit",
	"webrtc.keyframe_request_interval":      "no periodic request",
	"webrtc.reorder_wait":                   "no waiting",
}

// checkNegative refuses negative numbers and durations where they mean
// nothing (a zero means the default everywhere).
func checkNegative(v reflect.Value, path string) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if _, ok := negativeMeans[path]; ok {
		return nil
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Struct:
		var errs []error
		for f, fv := range v.Fields() {
			if name, ok := yamlName(f); ok {
				errs = append(errs, checkNegative(fv, join(path, name)))
			}
		}
		return errors.Join(errs...)
	case t == durationType:
		if d := time.Duration(v.Int()); d < 0 {
			return fmt.Errorf("%s: %v is negative; want a duration of 0 or more (0: the default)", path, d)
		}
	case v.CanInt():
		if v.Int() < 0 {
			return fmt.Errorf("%s: %d is negative; want 0 or more (0: the default)", path, v.Int())
		}
	case v.CanFloat():
		if v.Float() < 0 {
			return fmt.Errorf("%s: %v is negative; want 0 or more (0: the default)", path, v.Float())
		}
	}
	return nil
}

// fileErrors are keyErrors of a named file, each line as file:line.
type fileErrors struct {
	path string
	errs keyErrors
}

func (e fileErrors) Error() string { return e.errs.in(e.path + ":") }
func (e fileErrors) Unwrap() error { return e.errs }
