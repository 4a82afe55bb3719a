package rtmp

import (
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/status"
)

// methodScript is an application script that defines the methods in
// defined: a call of one answers "script:<name>".
type methodScript struct{ defined map[string]bool }

func (s *methodScript) Load(*instance.Instance) (instance.Script, error) { return s, nil }

func (s *methodScript) Connect(c *instance.Client, _ []amf.Value)               { c.Instance().Accept(c) }
func (s *methodScript) Disconnect(*instance.Client)                             {}
func (s *methodScript) Publish(*instance.Client, instance.PublishRequest) error { return nil }
func (s *methodScript) Unpublish(*instance.Client, string)                      {}
func (s *methodScript) Stop(string)                                             {}

func (s *methodScript) Call(_ *instance.Client, method string, _ []amf.Value, result instance.Result) {
	if !s.defined[method] {
		result(status.Info(status.CallFailed, "Method not found ("+method+")."), false)
		return
	}
	result(amf.String("script:"+method), true)
}

func (s *methodScript) HasMethod(_ *instance.Client, name string) bool { return s.defined[name] }

// docs/rtmp.md#encoder-commands, docs/ssas.md#calls-from-clients: releaseStream, FCPublish, FCUnpublish,
// FCSubscribe, getStreamLength and _checkbw are answered natively only when
// the application script defines no method of that name; a defined one
// gets the call. Methods the server always handles (createStream) never
// reach the script.
func TestNativeCommandsYieldToScriptMethods(t *testing.T) {
	ts := startServer(t, Config{})
	ts.eng.SetScriptLoader(&methodScript{defined: map[string]bool{
		"FCPublish": true, "getStreamLength": true, "_checkbw": true, "createStream": true,
	}})
	c := dial(t, ts, "live", ClientConfig{})
	for _, tc := range []struct {
		name   string
		script bool
	}{
		{"FCPublish", true},
		{"getStreamLength", true},
		{"_checkbw", true},
		{"releaseStream", false},
		{"FCUnpublish", false},
		{"createStream", false},
	} {
		vals, err := c.Call(testutil.Context(t, 5*time.Second), tc.name, amf.String("cam"))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		fromScript := len(vals) > 0 && vals[0].Str() == "script:"+tc.name
		if fromScript != tc.script {
			t.Errorf("%s answered by the script = %v, want %v (answer %v)", tc.name, fromScript, tc.script, vals)
		}
	}
	// The native FCUnpublish also sends onFCUnpublish; the script's
	// FCPublish sent no onFCPublish before it.
	ctx := testutil.Context(t, 5*time.Second)
	for seen := false; !seen; {
		select {
		case cmd := <-c.Calls:
			switch cmd.Name {
			case "onFCPublish":
				t.Error("onFCPublish sent although the script answered FCPublish")
			case "onFCUnpublish":
				seen = true
				if code := cmd.Arg(0).Get("code").Str(); code != status.UnpublishSuccess {
					t.Errorf("onFCUnpublish code %q", code)
				}
			}
		case <-ctx.Done():
			t.Fatal("no onFCUnpublish from the native FCUnpublish")
		}
	}
}

// Without a script every one of them is native.
func TestNativeCommandsWithoutScript(t *testing.T) {
	ts := startServer(t, Config{})
	c := dial(t, ts, "live", ClientConfig{})
	for _, name := range []string{"releaseStream", "FCPublish", "getStreamLength", "_checkbw"} {
		if _, err := c.Call(testutil.Context(t, 5*time.Second), name, amf.String("cam")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	vals, err := c.Call(testutil.Context(t, 5*time.Second), "getStreamLength", amf.String("cam"))
	if err != nil || len(vals) == 0 || vals[0].Num() != 0 {
		t.Errorf("getStreamLength of a live name = %v %v, want 0", vals, err)
	}
}
