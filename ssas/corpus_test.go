package ssas

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

var update = flag.Bool("update", false, "rewrite the corpus golden files")

// corpusSkip lists corpus scripts that are not run, with the reason
// (docs/architecture.md#tests). Empty: every script runs.
var corpusSkip = map[string]string{}

// TestCorpus runs every FCS-style script of testdata/corpus as the main.asc
// of an application (with testdata/corpus/lib as loadable files), drives
// it with the //@ steps written in its header and compares the traces and
// client-visible outcomes with NN_name.golden.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.asc")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("corpus has %d scripts, want at least 30", len(files))
	}
	libs, _ := filepath.Glob("testdata/corpus/lib/*")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".asc")
		t.Run(name, func(t *testing.T) {
			if why, ok := corpusSkip[name]; ok {
				t.Logf("not run: %s", why)
				return
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{"main.asc": string(src)}
			for _, l := range libs {
				b, err := os.ReadFile(l)
				if err != nil {
					t.Fatal(err)
				}
				files[filepath.Base(l)] = string(b)
			}
			got := runCorpus(t, string(src), files)
			golden := strings.TrimSuffix(f, ".asc") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("trace differs from %s\n--- got ---\n%s--- want ---\n%s", golden, got, want)
			}
		})
	}
}

// soSub is a fake shared-object subscriber for //@so steps.
type soSub struct{}

func (soSub) Deliver(sharedobject.Outgoing) {}

func runCorpus(t *testing.T, src string, files map[string]string) string {
	t.Helper()
	e := newEnv(t, Config{MaxScriptTime: 2 * time.Second}, files)
	clients := map[string]*client{}
	sessions := map[string]*sharedobject.Session{}
	var steps []string
	for line := range strings.SplitSeq(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(src), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "//@"); ok {
			steps = append(steps, s)
		}
	}
	// //@file name content: a one-line file of the application folder,
	// written before the instance loads. //@log: the server's log lines
	// (info and above, traces aside) go into the trace too.
	rest := steps[:0]
	for _, st := range steps {
		switch verb, arg, _ := strings.Cut(st, " "); verb {
		case "file":
			name, content, _ := strings.Cut(arg, " ")
			e.write(name, content+"\n")
		case "log":
			e.captureLog.Store(true)
		default:
			rest = append(rest, st)
		}
	}
	steps = rest
	if len(steps) == 0 || !strings.HasPrefix(steps[0], "connect") {
		steps = append([]string{"connect a"}, steps...)
	}
	get := func(n string) *client {
		c := clients[n]
		if c == nil {
			t.Fatalf("step names unknown client %q", n)
		}
		return c
	}
	for _, st := range steps {
		verb, rest, _ := strings.Cut(st, " ")
		f := strings.Fields(rest)
		switch verb {
		case "connect":
			inst := "_definst_"
			args := ""
			if len(f) > 1 && !strings.HasPrefix(f[1], "[") {
				inst = f[1]
				args = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(rest, f[0]), " "+f[1]))
			} else {
				args = strings.TrimSpace(strings.TrimPrefix(rest, f[0]))
			}
			cl, err := e.connect(f[0], inst, jsonArgs(t, args)...)
			if err != nil {
				e.add(fmt.Sprintf("> %s connect error: %v", f[0], firstLine(err.Error())))
				continue
			}
			clients[f[0]] = cl
			e.barrier()
		case "call":
			cl := get(f[0])
			args := strings.TrimSpace(strings.TrimPrefix(rest, f[0]+" "+f[1]))
			// Logged inside the result callback (on the loop), so the
			// line keeps its place among the script's traces.
			cl.callLogged(f[1], jsonArgs(t, args), func(v amf.Value, ok bool) {
				if ok {
					e.add(fmt.Sprintf("> %s result %s", f[0], fmtAMF(v)))
				} else {
					e.add(fmt.Sprintf("> %s error %s %s", f[0], v.Get("code").Str(), v.Get("description").Str()))
				}
			})
			e.barrier()
		case "answer":
			cl := get(f[0])
			val := jsonArgs(t, "["+strings.TrimSpace(strings.TrimPrefix(rest, f[0]))+"]")[0]
			cl.p.answer = func(string, []amf.Value) (amf.Value, bool) { return val, true }
		case "disconnect":
			cl := get(f[0])
			cl.in.Disconnect(cl.c)
			e.barrier()
		case "waitfor":
			e.waitLine(rest)
		case "barrier":
			e.barrier()
		case "publish":
			// //@publish client name[?query] [type]: the checks of a
			// client's NetStream.publish (access lists, onPublish).
			cl := get(f[0])
			if err := cl.in.CheckPublish(cl.c, publishRequest(f[1:])); err != nil {
				e.add(fmt.Sprintf("> %s publish %s refused: %v", f[0], f[1], err))
			} else {
				e.add(fmt.Sprintf("> %s publish %s ok", f[0], f[1]))
			}
			e.barrier()
		case "unpublish":
			cl := get(f[0])
			cl.in.Unpublished(cl.c, f[1])
			e.barrier()
		case "play":
			cl := get(f[0])
			if err := cl.in.CheckPlay(cl.c, f[1]); err != nil {
				e.add(fmt.Sprintf("> %s play %s refused: %v", f[0], f[1], err))
			} else {
				e.add(fmt.Sprintf("> %s play %s ok", f[0], f[1]))
			}
		case "sochange", "sosend":
			// //@sochange client so key valueJSON; //@sosend client so handler argsJSON
			cl := get(f[0])
			sess := sessions[f[0]]
			if sess == nil {
				sess = cl.in.SharedObjects().NewSession(soSub{})
				sess.SetAccess(cl.c.ReadAccess(), cl.c.WriteAccess())
				sessions[f[0]] = sess
				t.Cleanup(sess.Close)
			}
			sess.SetAccess(cl.c.ReadAccess(), cl.c.WriteAccess())
			val := strings.TrimSpace(strings.TrimPrefix(rest, f[0]+" "+f[1]+" "+f[2]))
			ev := wire.Event{Type: wire.EventRequestChange, Key: f[2], Value: jsonArgs(t, "["+val+"]")[0]}
			if verb == "sosend" {
				ev = wire.Event{Type: wire.EventSendMessage, Key: f[2], Args: jsonArgs(t, val)}
			}
			m := wire.Message{Name: f[1], Events: []wire.Event{{Type: wire.EventUse}, ev}}
			if err := sess.Handle(&m); err != nil {
				e.add(fmt.Sprintf("> %s so error %v", f[0], err))
			}
			e.barrier() // onSync and handlers are posted while Handle runs
		case "flv":
			// //@flv relpath ms: a recorded file of ms milliseconds in the app folder.
			ms, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("step %q: %v", st, err)
			}
			writeFLV(t, filepath.Join(e.dir, "app", filepath.FromSlash(f[0])), uint32(ms))
		case "livepub":
			// //@livepub client stream ms: the client publishes ms of media
			// (onPublish, publication, Publishing) and stops publishing;
			// //@unpublish reports the end to the script.
			cl := get(f[0])
			ms, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("step %q: %v", st, err)
			}
			req := publishRequest(f[1:2])
			if err := cl.in.CheckPublish(cl.c, req); err != nil {
				e.add(fmt.Sprintf("> %s publish %s refused: %v", f[0], f[1], err))
				continue
			}
			pub, err := cl.in.Streams().Publish(req.Stream)
			if err != nil {
				t.Fatal(err)
			}
			cl.in.Publishing(cl.c, pub)
			e.barrier()
			for _, p := range mediaPackets(0, uint32(ms)) {
				pub.Write(p)
			}
			pub.Close()
		case "unload":
			e.m.Close()
			if rt := e.ld.last(); rt != nil {
				<-rt.Done()
			}
		default:
			t.Fatalf("unknown step %q", st)
		}
	}
	e.barrier()
	return strings.Join(e.lines(), "\n") + "\n"
}

// publishRequest is what the RTMP layer makes of publish(name[?query],
// type): the name without its query.
func publishRequest(f []string) instance.PublishRequest {
	name, query, _ := strings.Cut(f[0], "?")
	req := instance.PublishRequest{Stream: name, Query: query}
	if len(f) > 1 {
		req.Type = f[1]
	}
	return req
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// jsonArgs turns a JSON array into AMF values.
func jsonArgs(t testing.TB, s string) []amf.Value {
	t.Helper()
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	var vs []any
	if err := json.Unmarshal([]byte(s), &vs); err != nil {
		t.Fatalf("step arguments %s: %v", s, err)
	}
	out := make([]amf.Value, len(vs))
	for i, v := range vs {
		out[i] = jsonAMF(v)
	}
	return out
}

func jsonAMF(v any) amf.Value {
	switch x := v.(type) {
	case nil:
		return amf.Null()
	case bool:
		return amf.Bool(x)
	case float64:
		return amf.Number(x)
	case string:
		return amf.String(x)
	case []any:
		el := make([]amf.Value, len(x))
		for i, e := range x {
			el[i] = jsonAMF(e)
		}
		return amf.StrictArray(el...)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		class := ""
		props := make([]amf.Prop, 0, len(keys))
		for _, k := range keys {
			if k == "__class" {
				class, _ = x[k].(string)
				continue
			}
			props = append(props, amf.Prop{Key: k, Value: jsonAMF(x[k])})
		}
		if class != "" {
			return amf.TypedObject(class, props...)
		}
		return amf.Object(props...)
	}
	return amf.Undefined()
}
