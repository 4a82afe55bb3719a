package admin

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "t0ken-for-tests"

// fakePeer is a transport's client as the engine sees it: it records what
// the admin API does to it; Close leaves the instance as a transport does.
type fakePeer struct {
	mu     sync.Mutex
	in     *instance.Instance
	c      *instance.Client
	calls  []string
	closed bool
	pings  int
}

func (p *fakePeer) Accept(*instance.Client)            {}
func (p *fakePeer) Reject(*instance.Client, amf.Value) {}
func (p *fakePeer) Call(method string, args []amf.Value, _ instance.Result) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for _, a := range args {
		parts = append(parts, a.Str())
	}
	p.calls = append(p.calls, method+"("+strings.Join(parts, ",")+")")
	return true
}

func (p *fakePeer) Close(amf.Value) {
	p.mu.Lock()
	p.closed = true
	in, c := p.in, p.c
	p.mu.Unlock()
	in.Disconnect(c)
}

func (p *fakePeer) Ping() bool {
	p.mu.Lock()
	p.pings++
	p.mu.Unlock()
	return true
}

func (p *fakePeer) Stats() instance.PeerStats {
	return instance.PeerStats{BytesIn: 1000, BytesOut: 2000, MsgIn: 10, MsgOut: 20, PingRTT: 12 * time.Millisecond}
}

// fixture is an engine with two applications, clients, a published stream
// with a player, and a shared object, served by an admin Server.
type fixture struct {
	m       *instance.Manager
	srv     *httptest.Server
	in      *instance.Instance
	pub     *instance.Client
	player  *instance.Client
	peers   map[uint64]*fakePeer
	stream  *media.Publication
	sub     *media.Subscriber
	metrics http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	apps := testutil.Apps(t, "live", "chat")
	log, _ := testutil.Logger(t, -4)
	f := &fixture{m: instance.NewManager(instance.Config{AppsDir: apps}, log), peers: map[uint64]*fakePeer{}}
	t.Cleanup(f.m.Close)
	connect := func(app, inst, proto string) *instance.Client {
		p := &fakePeer{}
		in, c, err := f.m.Connect(app, inst, instance.ClientInfo{IP: "192.0.2.7", Agent: "FMLE/3.0", Protocol: proto, Peer: p})
		if err != nil {
			t.Fatal(err)
		}
		p.in, p.c = in, c
		f.peers[c.ID] = p
		return c
	}
	f.pub = connect("live", "_definst_", "rtmp")
	f.player = connect("live", "_definst_", "rtmpt")
	connect("chat", "room1", "rtmps")
	f.in = f.m.Lookup("live", "_definst_")
	pub, err := f.in.Streams().Publish("cam")
	if err != nil {
		t.Fatal(err)
	}
	pub.SetClient(f.pub.ID)
	f.stream = pub
	f.sub = f.in.Streams().Subscribe("cam", media.SubscribeOptions{Client: f.player.ID})
	t.Cleanup(f.sub.Close)
	t.Cleanup(pub.Close)
	meta, _ := amf.AppendAMF0Values(nil, amf.String("onMetaData"),
		amf.ECMAArray(amf.Prop{Key: "width", Value: amf.Number(640)}, amf.Prop{Key: "height", Value: amf.Number(360)},
			amf.Prop{Key: "framerate", Value: amf.Number(25)}))
	pub.SetMetadata(&media.Packet{Kind: media.Data, Payload: meta})
	pub.Write(&media.Packet{Kind: media.Video, Payload: []byte{0x17, 0, 0, 0, 0, 1, 2, 3}})
	pub.Write(&media.Packet{Kind: media.Audio, Payload: []byte{0xaf, 1, 9, 9}})
	so, err := f.in.SharedObjects().Get("roster", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := so.SetProperty("alice", amf.Object(amf.Prop{Key: "age", Value: amf.Number(30)})); err != nil {
		t.Fatal(err)
	}
	f.metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics\n") })
	a := &Server{Config: Config{Token: token}, Logger: log, Engine: f.m, Version: "test",
		Counters: Counters{RTMP: func() rtmp.Stats {
			return rtmp.Stats{Protos: map[string]rtmp.ProtoStats{"rtmp": {Open: 2, Accepted: 5, BytesIn: 100}}, Closed: map[string]uint64{"eof": 3}}
		}},
		Routes: map[string]http.Handler{"GET /metrics": f.metrics}}
	f.srv = httptest.NewServer(a.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// call runs an FMS command with the bearer token and decodes the result.
func (f *fixture) call(t *testing.T, cmd string, params url.Values) (int, result, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/admin/"+cmd+"?"+params.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, result, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res result
	_ = json.Unmarshal(b, &res)
	return resp.StatusCode, res, string(b)
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// Every FMS command under its FMS name and parameters: it answers with the
// token, and is refused without it, with a wrong one, and with a wrong
// FMS password; FMS-style auser/apswd work too.
func TestFMSCommandsAuth(t *testing.T) {
	f := newFixture(t)
	li := "live/_definst_"
	pid := jsonNum(f.player.ID)
	cases := []struct {
		cmd    string
		params url.Values
		want   string // in the data
	}{
		{"ping", nil, ""},
		{"getServerStats", nil, `"protocols"`},
		{"getApps", nil, `"chat"`},
		{"getApps", vals("verbose", "true"), `"total_connects"`},
		{"getAppStats", vals("app", "live"), `"connected": 2`},
		{"getActiveInstances", nil, `"chat/room1"`},
		{"getInstanceStats", vals("appInst", li), `"live_streams": 1`},
		{"getLiveStreams", vals("appInst", li), `"cam"`},
		{"getLiveStreamStats", vals("appInst", li, "stream", "cam"), `"video_codec": "h264"`},
		{"getNetStreams", vals("appInst", li), `:play:cam"`},
		{"getNetStreamStats", vals("appInst", li, "streamIds", pid+":play:cam"), `"type": "playing"`},
		{"getUsers", vals("appInst", li), pid},
		{"getUserStats", vals("appInst", li, "userId", pid), `"protocol": "rtmpt"`},
		{"getSharedObjects", vals("appInst", li), `"roster"`},
		{"getSharedObjectStats", vals("appInst", li, "soName", "roster", "persistent", "false"), `"num_properties": 1`},
		{"getSharedObjectData", vals("appInst", li, "soName", "roster"), `"age": 30`},
		{"getScriptStats", vals("appInst", li), `"script": false`},
		{"broadcastMsg", vals("scope", "App:live", "method", "hello", "arg0", "a", "arg1", "b"), `"clients": 2`},
		{"clearSharedObject", vals("appInst", li, "soName", "roster"), `"num_properties": 0`},
		{"disconnectUsers", vals("appInst", "chat/room1", "userId", "3"), "3"},
		{"reloadApp", vals("appInst", "chat"), `"chat/room1"`},
		{"unloadApp", vals("appInst", li), `"live/_definst_"`},
	}
	// A command added to the server without a case here fails.
	tested := map[string]bool{}
	for _, tc := range cases {
		tested[tc.cmd] = true
	}
	for name := range (&Server{}).fmsCommands() {
		if !tested[name] {
			t.Errorf("FMS command %s has no case in this test", name)
		}
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			// Refused: no token, a wrong bearer token, a wrong password.
			u := f.srv.URL + "/admin/" + tc.cmd + "?" + tc.params.Encode()
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if code, res, _ := do(t, req); code != 401 || res.Code != "NetConnection.Connect.Rejected" || res.Level != "error" {
				t.Errorf("no token: %d %+v, want 401 NetConnection.Connect.Rejected", code, res)
			}
			req, _ = http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer nope")
			if code, _, _ := do(t, req); code != 401 {
				t.Errorf("wrong token: %d, want 401", code)
			}
			bad := url.Values{}
			maps.Copy(bad, tc.params)
			bad.Set("auser", "admin")
			bad.Set("apswd", "wrong")
			req, _ = http.NewRequest(http.MethodGet, f.srv.URL+"/admin/"+tc.cmd+"?"+bad.Encode(), nil)
			if code, _, _ := do(t, req); code != 401 {
				t.Errorf("wrong apswd: %d, want 401", code)
			}
			// Accepted with auser/apswd as FMS clients send them (a
			// read-only command, so the mutating ones run once below).
			if !strings.HasPrefix(tc.cmd, "get") {
				return
			}
			good := url.Values{}
			maps.Copy(good, tc.params)
			good.Set("auser", "admin")
			good.Set("apswd", token)
			req, _ = http.NewRequest(http.MethodGet, f.srv.URL+"/admin/"+tc.cmd+"?"+good.Encode(), nil)
			if code, res, body := do(t, req); code != 200 || res.Code != "NetConnection.Call.Success" {
				t.Errorf("auser/apswd: %d %s", code, body)
			}
		})
	}
	// Then each with the bearer token, in order (the last ones change state).
	for _, tc := range cases {
		code, res, body := f.call(t, tc.cmd, tc.params)
		if code != 200 || res.Level != "status" || res.Code != "NetConnection.Call.Success" || res.Timestamp == "" {
			t.Errorf("%s: %d %s", tc.cmd, code, body)
			continue
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s lacks %s", tc.cmd, body, tc.want)
		}
	}
}

func jsonNum(id uint64) string { b, _ := json.Marshal(id); return string(b) }

// The commands' effects and their parameters' checks.
func TestFMSCommandEffects(t *testing.T) {
	f := newFixture(t)
	li := "live/_definst_"
	// Missing or bad parameters: 400; unknown instance, stream, user: 404.
	for _, tc := range []struct {
		cmd    string
		params url.Values
		code   int
	}{
		{"getInstanceStats", nil, 400},
		{"getInstanceStats", vals("appInst", "live/nosuch"), 404},
		{"getLiveStreamStats", vals("appInst", li), 400},
		{"getLiveStreamStats", vals("appInst", li, "stream", "nosuch"), 404},
		{"getUserStats", vals("appInst", li, "userId", "x"), 400},
		{"getUserStats", vals("appInst", li, "userId", "999"), 404},
		{"getSharedObjectStats", vals("appInst", li, "soName", "roster", "persistent", "true"), 404},
		{"getAppStats", vals("app", "nosuch"), 404},
		{"broadcastMsg", vals("scope", "Galaxy", "method", "x"), 400},
		{"disconnectUsers", vals("appInst", li), 400},
		{"noSuchCommand", nil, 404},
	} {
		code, res, body := f.call(t, tc.cmd, tc.params)
		if code != tc.code || res.Level != "error" || res.Description == "" {
			t.Errorf("%s %v: %d %s, want %d with an error result", tc.cmd, tc.params, code, body, tc.code)
		}
	}

	// getLiveStreamStats: codecs, resolution, publisher, players.
	_, res, _ := f.call(t, "getLiveStreamStats", vals("appInst", li, "stream", "cam"))
	var st StreamStats
	remarshal(t, res.Data, &st)
	if st.VideoCodec != "h264" || st.AudioCodec != "aac" || st.Width != 640 || st.Height != 360 || st.FrameRate != 25 {
		t.Errorf("codecs/resolution: %+v", st)
	}
	if st.Publisher == nil || st.Publisher.Client != f.pub.ID || st.Publisher.Protocol != "rtmp" || st.Publisher.IP != "192.0.2.7" {
		t.Errorf("publisher: %+v", st.Publisher)
	}
	if len(st.Players) != 1 || st.Players[0].Client != f.player.ID {
		t.Errorf("players: %+v", st.Players)
	}
	if st.BytesIn == 0 || st.BitrateIn <= 0 {
		t.Errorf("bytes/bitrate in: %+v", st)
	}

	// getUserStats: protocol, IP, agent, bytes, ping RTT; asking pings.
	_, res, _ = f.call(t, "getUserStats", vals("appInst", li, "userId", jsonNum(f.player.ID)))
	var cs ClientStats
	remarshal(t, res.Data, &cs)
	if cs.Protocol != "rtmpt" || cs.IP != "192.0.2.7" || cs.Agent != "FMLE/3.0" || cs.BytesOut != 2000 || cs.PingRTT != 12 ||
		len(cs.Playing) != 1 || cs.Playing[0] != "cam" {
		t.Errorf("user stats: %+v", cs)
	}
	if f.peers[f.player.ID].pings == 0 {
		t.Error("getUserStats sent no ping")
	}

	// broadcastMsg reaches every accepted client in scope with its args.
	f.call(t, "broadcastMsg", vals("scope", "Server", "method", "note", "arg0", "x"))
	for id, p := range f.peers {
		p.mu.Lock()
		if len(p.calls) != 1 || p.calls[0] != "note(x)" {
			t.Errorf("client %d calls: %v", id, p.calls)
		}
		p.mu.Unlock()
	}

	// disconnectUsers closes the client.
	f.call(t, "disconnectUsers", vals("appInst", li, "userId", jsonNum(f.player.ID)))
	if !f.peers[f.player.ID].closed {
		t.Error("disconnectUsers did not close the client")
	}

	// clearSharedObject empties it and bumps its version.
	so := f.in.SharedObjects().Lookup("roster", false)
	v0 := so.Version()
	f.call(t, "clearSharedObject", vals("appInst", li, "soName", "roster"))
	if so.Size() != 0 || so.Version() <= v0 {
		t.Errorf("after clear: %d slots, version %d (was %d)", so.Size(), so.Version(), v0)
	}

	// unloadApp unloads every instance named and closes its clients.
	code, res, body := f.call(t, "unloadApp", vals("appInst", "live"))
	if code != 200 || !strings.Contains(body, `"live/_definst_"`) {
		t.Errorf("unloadApp: %d %s", code, body)
	}
	if f.m.Lookup("live", "_definst_") != nil || !f.peers[f.pub.ID].closed {
		t.Error("unloadApp left the instance or its publisher")
	}
	if code, _, _ := f.call(t, "unloadApp", vals("appInst", "live")); code != 404 {
		t.Errorf("unloadApp of nothing loaded: %d, want 404", code)
	}
	_ = res
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// The REST view: the same data under /admin/api/v1, the token required.
func TestREST(t *testing.T) {
	f := newFixture(t)
	rest := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		code, _, b := do(t, req)
		return code, b
	}
	pid := jsonNum(f.player.ID)
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/admin/api/v1/server", "", 200, `"closed_by_reason"`},
		{"GET", "/admin/api/v1/apps", "", 200, `"name": "chat"`},
		{"GET", "/admin/api/v1/apps/live", "", 200, `"live/_definst_"`},
		{"GET", "/admin/api/v1/apps/nosuch", "", 404, `"error"`},
		{"GET", "/admin/api/v1/instances", "", 200, `"chat/room1"`},
		{"GET", "/admin/api/v1/instances/live/_definst_", "", 200, `"connected": 2`},
		{"GET", "/admin/api/v1/instances/live/nosuch", "", 404, `not loaded`},
		{"GET", "/admin/api/v1/instances/live/_definst_/clients", "", 200, `"agent": "FMLE/3.0"`},
		{"GET", "/admin/api/v1/instances/live/_definst_/clients/" + pid, "", 200, `"playing": [`},
		{"GET", "/admin/api/v1/instances/live/_definst_/clients/x", "", 400, `"error"`},
		{"GET", "/admin/api/v1/instances/live/_definst_/streams", "", 200, `"audio_codec": "aac"`},
		{"GET", "/admin/api/v1/instances/live/_definst_/streams/cam", "", 200, `"metadata"`},
		{"GET", "/admin/api/v1/instances/live/_definst_/netstreams", "", 200, `"publishing"`},
		{"GET", "/admin/api/v1/instances/live/_definst_/sharedobjects", "", 200, `"roster"`},
		{"GET", "/admin/api/v1/instances/live/_definst_/sharedobjects/roster", "", 200, `"alice"`},
		{"GET", "/admin/api/v1/instances/live/_definst_/script", "", 200, `"script": false`},
		{"GET", "/admin/api/v1/clients", "", 200, `"protocol": "rtmps"`},
		{"GET", "/admin/api/v1/streams", "", 200, `"instance": "live/_definst_"`},
		{"POST", "/admin/api/v1/instances/live/_definst_/broadcast", `{"method":"hi","args":["a",1]}`, 200, `"clients": 2`},
		{"POST", "/admin/api/v1/instances/live/_definst_/broadcast", `nope`, 400, `"error"`},
		{"DELETE", "/admin/api/v1/instances/live/_definst_/sharedobjects/roster/data", "", 200, `"num_properties": 0`},
		{"DELETE", "/admin/api/v1/instances/live/_definst_/clients/" + pid, "", 200, `"disconnected": true`},
		{"POST", "/admin/api/v1/instances/chat/room1/reload", "", 200, `"chat/room1"`},
		{"POST", "/admin/api/v1/apps/live/unload", "", 200, `"live/_definst_"`},
		{"GET", "/admin/api/v1/nosuch", "", 404, `"error"`},
		{"GET", "/metrics", "", 200, "metrics"},
	} {
		code, body := rest(tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, code, body, tc.code, tc.want)
		}
		req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, strings.NewReader(tc.body))
		if code, _, _ := do(t, req); code != 401 {
			t.Errorf("%s %s without a token: %d, want 401", tc.method, tc.path, code)
		}
	}
	if !f.peers[f.player.ID].closed {
		t.Error("DELETE client did not close it")
	}
	// Health checks answer without the token.
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

// An instance and a stream name holding "/" travel escaped in one segment.
func TestRESTNestedNames(t *testing.T) {
	apps := testutil.Apps(t, "live")
	log, _ := testutil.Logger(t, 0)
	m := instance.NewManager(instance.Config{AppsDir: apps}, log)
	t.Cleanup(m.Close)
	in, _, err := m.Connect("live", "room/a", instance.ClientInfo{Protocol: "rtmp"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := in.Streams().Publish("cams/front")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	a := &Server{Config: Config{Token: token}, Engine: m}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/api/v1/instances/live/room%2Fa/streams/cams%2Ffront", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	code, _, body := do(t, req)
	if code != 200 || !strings.Contains(body, `"name": "cams/front"`) {
		t.Errorf("%d %s", code, body)
	}
}

// An admin Server without a token refuses everything.
func TestNoTokenRefusesAll(t *testing.T) {
	apps := testutil.Apps(t, "live")
	log, _ := testutil.Logger(t, 0)
	m := instance.NewManager(instance.Config{AppsDir: apps}, log)
	t.Cleanup(m.Close)
	a := &Server{Engine: m}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/getServerStats?auser=admin&apswd=", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if code, _, _ := do(t, req); code != 401 {
			t.Errorf("%q: %d, want 401", auth, code)
		}
	}
}

// Shared-object values convert to JSON whatever their shape: a cycle or a
// huge value is cut, not followed.
func TestToJSONBounds(t *testing.T) {
	o := amf.Object(amf.Prop{Key: "n", Value: amf.Number(1)})
	o.Set("self", o)
	b, err := json.Marshal(toJSON(o, 16, 10000))
	if err != nil || !strings.Contains(string(b), "omitted") {
		t.Errorf("cyclic: %s %v", b, err)
	}
	big := make([]amf.Value, 50000)
	for i := range big {
		big[i] = amf.Number(float64(i))
	}
	got := toJSON(amf.StrictArray(big...), 16, 10000).([]any)
	if len(got) > 10001 {
		t.Errorf("array of 50000 kept %d elements", len(got))
	}
}

// docs/admin-api.yaml describes exactly the REST routes the server has.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../docs/admin-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	log, _ := testutil.Logger(t, 0)
	a := &Server{Config: Config{Token: token}, Logger: log}
	a.Handler()
	served := map[string]bool{}
	for _, p := range a.restPatterns {
		served[p] = true
	}
	for p := range served {
		if !documented[p] {
			t.Errorf("%s is served but not in docs/admin-api.yaml", p)
		}
	}
	for p := range documented {
		if !served[p] {
			t.Errorf("%s is in docs/admin-api.yaml but not served", p)
		}
	}
}

// The trace event stream: lines published for the instance arrive as
// "trace" events; another instance's do not; the stream ends with Close.
func TestTraceStream(t *testing.T) {
	f := newFixture(t)
	// The fixture's server is behind httptest; reach its Server through a
	// new one sharing the engine, to publish lines.
	log, _ := testutil.Logger(t, 0)
	a := &Server{Config: Config{Token: token}, Logger: log, Engine: f.m}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/api/v1/instances/live/_definst_/trace", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		b := make([]byte, 4096)
		var acc string
		for {
			n, err := resp.Body.Read(b)
			acc += string(b[:n])
			for {
				i := strings.Index(acc, "\n\n")
				if i < 0 {
					break
				}
				lines <- acc[:i]
				acc = acc[i+2:]
			}
			if err != nil {
				return
			}
		}
	}()
	if ev := <-lines; !strings.HasPrefix(ev, "event: ready") {
		t.Fatalf("first event %q, want ready", ev)
	}
	a.Traces.Publish("chat", "room1", "not for this stream")
	a.Traces.Publish("live", "_definst_", "hello <world>")
	select {
	case ev := <-lines:
		if !strings.HasPrefix(ev, "event: trace\ndata: ") || !strings.Contains(ev, `"text":"hello \u003cworld\u003e"`) {
			t.Errorf("event %q", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no trace event")
	}
	a.Close()
	select {
	case _, ok := <-lines:
		for ok {
			_, ok = <-lines
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end with Close")
	}
	// A stream for an instance that is not loaded: 404.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/admin/api/v1/instances/live/nosuch/trace", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if code, _, _ := do(t, req); code != 404 {
		t.Errorf("trace of nothing: %d", code)
	}
}

// The console's files are served without the token (they hold no data)
// and keep to their own origin.
func TestConsoleFiles(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/", "/console/console.js", "/console/console.css"} {
		resp, err := http.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: %d, %d bytes, CSP %q", p, resp.StatusCode, len(b), resp.Header.Get("Content-Security-Policy"))
		}
	}
	resp, err := http.Get(f.srv.URL + "/console/nosuch.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("missing console file: %d", resp.StatusCode)
	}
}
