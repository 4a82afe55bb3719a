package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/status"
)

// The FMS Administration API over HTTP (docs/operations.md#admin-api):
// GET or POST /admin/<command> with the command's FMS parameter names;
// the answer is FMS's result object (level, code, timestamp, data) in
// JSON. A failed command answers level "error", code
// NetConnection.Admin.CommandFailed and a description, with a 4xx status.

const codeLoginFailed = status.ConnectRejected

// errNotFound marks a failure answered with 404.
var errNotFound = errors.New("not found")

// badRequest is a failure answered with 400.
type badRequest string

func (e badRequest) Error() string { return string(e) }

type command func(r *http.Request) (any, error)

// fmsCommands maps FMS command names to their handlers.
func (s *Server) fmsCommands() map[string]command {
	return map[string]command{
		"ping":                 func(*http.Request) (any, error) { return nil, nil },
		"getServerStats":       func(*http.Request) (any, error) { return s.serverStats(), nil },
		"getApps":              s.cmdGetApps,
		"getAppStats":          s.cmdGetAppStats,
		"getActiveInstances":   s.cmdGetActiveInstances,
		"getInstanceStats":     s.cmdGetInstanceStats,
		"getLiveStreams":       s.cmdGetLiveStreams,
		"getLiveStreamStats":   s.cmdGetLiveStreamStats,
		"getNetStreams":        s.cmdGetNetStreams,
		"getNetStreamStats":    s.cmdGetNetStreamStats,
		"getUsers":             s.cmdGetUsers,
		"getUserStats":         s.cmdGetUserStats,
		"getSharedObjects":     s.cmdGetSharedObjects,
		"getSharedObjectStats": s.cmdGetSharedObjectStats,
		"getScriptStats":       s.cmdGetScriptStats,
		"reloadApp":            s.cmdReloadApp,
		"unloadApp":            s.cmdUnloadApp,
		"disconnectUsers":      s.cmdDisconnectUsers,
		"broadcastMsg":         s.cmdBroadcastMsg,
		// openfcs additions, in the same style.
		"getSharedObjectData": s.cmdGetSharedObjectData,
		"clearSharedObject":   s.cmdClearSharedObject,
	}
}

func (s *Server) fmsRoutes(mux *http.ServeMux) {
	cmds := s.fmsCommands()
	mux.HandleFunc("/admin/{command}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			writeResult(w, http.StatusMethodNotAllowed, failure(status.AdminCommandFailed, "Use GET or POST."))
			return
		}
		name := r.PathValue("command")
		cmd := cmds[name]
		if cmd == nil {
			writeResult(w, http.StatusNotFound, failure(status.AdminCommandFailed, "Unknown command "+strconv.Quote(name)+"."))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			writeResult(w, http.StatusBadRequest, failure(status.AdminCommandFailed, "Unreadable parameters."))
			return
		}
		data, err := cmd(r)
		if err != nil {
			writeResult(w, errStatus(err), failure(status.AdminCommandFailed, err.Error()))
			return
		}
		writeResult(w, http.StatusOK, result{Level: status.Level(status.CallSuccess), Code: status.CallSuccess, Data: data})
	})
}

func failure(code, desc string) result {
	return result{Level: status.Level(code), Code: code, Description: desc}
}

func errStatus(err error) int {
	var br badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// param returns a required parameter.
func param(r *http.Request, name string) (string, error) {
	v := r.Form.Get(name)
	if v == "" {
		return "", badRequest("Missing parameter " + name + ".")
	}
	return v, nil
}

// appInst resolves the appInst parameter ("app/inst", or "app" for its
// default instance) to a loaded instance.
func (s *Server) appInst(r *http.Request) (*instance.Instance, error) {
	v, err := param(r, "appInst")
	if err != nil {
		return nil, err
	}
	return s.lookup(v)
}

func (s *Server) lookup(appInst string) (*instance.Instance, error) {
	app, inst, _ := strings.Cut(strings.Trim(appInst, "/"), "/")
	if inst == "" {
		inst = instance.DefaultInstance
	}
	in := s.Engine.Lookup(app, inst)
	if in == nil {
		return nil, fmt.Errorf("%w: instance %s/%s is not loaded", errNotFound, app, inst)
	}
	return in, nil
}

func boolParam(r *http.Request, name string) bool {
	switch strings.ToLower(r.Form.Get(name)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

func (s *Server) cmdGetApps(r *http.Request) (any, error) {
	apps, err := s.Engine.Apps()
	if err != nil {
		return nil, err
	}
	if apps == nil {
		apps = []string{}
	}
	if !boolParam(r, "verbose") {
		return apps, nil
	}
	out := make([]AppStats, 0, len(apps))
	for _, a := range apps {
		out = append(out, s.appStats(a))
	}
	return out, nil
}

func (s *Server) cmdGetAppStats(r *http.Request) (any, error) {
	app, err := param(r, "app")
	if err != nil {
		return nil, err
	}
	app, _, _ = strings.Cut(app, "/")
	apps, err := s.Engine.Apps()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(apps, app) {
		return nil, fmt.Errorf("%w: no application %q", errNotFound, app)
	}
	return s.appStats(app), nil
}

func (s *Server) cmdGetActiveInstances(r *http.Request) (any, error) {
	app := r.Form.Get("app")
	out := []string{}
	for _, in := range sortedInstances(s.Engine.Instances()) {
		if app == "" || in.App == app {
			out = append(out, in.App+"/"+in.Name)
		}
	}
	return out, nil
}

func (s *Server) cmdGetInstanceStats(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	return s.instanceStats(in), nil
}

func (s *Server) cmdGetLiveStreams(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	names := in.Streams().Names()
	if names == nil {
		names = []string{}
	}
	return names, nil
}

func (s *Server) cmdGetLiveStreamStats(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	name, err := param(r, "stream")
	if err != nil {
		return nil, err
	}
	return s.stream(in, name)
}

func (s *Server) stream(in *instance.Instance, name string) (StreamStats, error) {
	for _, ss := range in.Streams().Snapshot() {
		if ss.Name == name {
			return s.streamStats(in, ss, time.Now()), nil
		}
	}
	return StreamStats{}, fmt.Errorf("%w: no stream %q in %s/%s", errNotFound, name, in.App, in.Name)
}

// NetStream is one client's publishing or playing stream (getNetStreams,
// getNetStreamStats). Its id is "<client>:publish:<stream>" or
// "<client>:play:<stream>": the engine knows streams by name, not by the
// RTMP message stream id FMS used.
type NetStream struct {
	ID     string    `json:"stream_id"`
	Client uint64    `json:"client"`
	Name   string    `json:"name"`
	Type   string    `json:"type"` // publishing, playing
	Time   time.Time `json:"time"`
}

func netStreams(in *instance.Instance) []NetStream {
	out := []NetStream{}
	for _, ss := range in.Streams().Snapshot() {
		if ss.Published && ss.Client != 0 {
			out = append(out, NetStream{ID: fmt.Sprintf("%d:publish:%s", ss.Client, ss.Name), Client: ss.Client,
				Name: ss.Name, Type: "publishing", Time: ss.Since.UTC()})
		}
		for _, p := range ss.Players {
			if p.Client != 0 {
				out = append(out, NetStream{ID: fmt.Sprintf("%d:play:%s", p.Client, ss.Name), Client: p.Client,
					Name: ss.Name, Type: "playing", Time: p.Since.UTC()})
			}
		}
	}
	return out
}

func (s *Server) cmdGetNetStreams(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, ns := range netStreams(in) {
		ids = append(ids, ns.ID)
	}
	return ids, nil
}

func (s *Server) cmdGetNetStreamStats(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	want, err := param(r, "streamIds")
	if err != nil {
		return nil, err
	}
	all := netStreams(in)
	out := []NetStream{}
	for id := range strings.SplitSeq(want, ",") {
		i := slices.IndexFunc(all, func(ns NetStream) bool { return ns.ID == strings.TrimSpace(id) })
		if i < 0 {
			return nil, fmt.Errorf("%w: no net stream %q", errNotFound, id)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func (s *Server) cmdGetUsers(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	ids := []uint64{}
	for _, c := range sortedClients(in.Clients()) {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

func (s *Server) client(in *instance.Instance, idText string) (*instance.Client, error) {
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return nil, badRequest("userId must be a client id (a number).")
	}
	for _, c := range in.Clients() {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: no client %d in %s/%s", errNotFound, id, in.App, in.Name)
}

func (s *Server) cmdGetUserStats(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	id, err := param(r, "userId")
	if err != nil {
		return nil, err
	}
	c, err := s.client(in, id)
	if err != nil {
		return nil, err
	}
	st := clientStats(in, c, nil)
	if c.Peer != nil {
		c.Peer.Ping() // the next request shows a fresh round trip
	}
	return st, nil
}

func (s *Server) cmdGetSharedObjects(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	out := struct {
		Persistent []string `json:"persistent"`
		Volatile   []string `json:"volatile"`
	}{[]string{}, []string{}}
	for _, so := range in.SharedObjects().Objects() {
		if so.Persistent() {
			out.Persistent = append(out.Persistent, so.Name())
		} else {
			out.Volatile = append(out.Volatile, so.Name())
		}
	}
	return out, nil
}

func (s *Server) sharedObject(r *http.Request, in *instance.Instance) (SharedObjectStats, error) {
	name, err := param(r, "soName")
	if err != nil {
		return SharedObjectStats{}, err
	}
	so := in.SharedObjects().Lookup(name, boolParam(r, "persistent"))
	if so == nil {
		return SharedObjectStats{}, fmt.Errorf("%w: shared object %q (persistent=%v) is not loaded", errNotFound, name, boolParam(r, "persistent"))
	}
	return soStats(so, false, 0), nil
}

func (s *Server) cmdGetSharedObjectStats(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	return s.sharedObject(r, in)
}

func (s *Server) cmdGetSharedObjectData(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.sharedObject(r, in); err != nil {
		return nil, err
	}
	so := in.SharedObjects().Lookup(r.Form.Get("soName"), boolParam(r, "persistent"))
	return soStats(so, true, s.cfg.MaxSOValueBytes), nil
}

func (s *Server) cmdClearSharedObject(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.sharedObject(r, in); err != nil {
		return nil, err
	}
	so := in.SharedObjects().Lookup(r.Form.Get("soName"), boolParam(r, "persistent"))
	if err := so.Clear(); err != nil {
		return nil, err
	}
	s.Logger.Info("admin: shared object cleared", "app", in.App, "instance", in.Name, "so", so.Name(), "persistent", so.Persistent())
	return soStats(so, false, 0), nil
}

func (s *Server) cmdGetScriptStats(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	return scriptStats(in), nil
}

// splitAppInst reads appInst for reloadApp and unloadApp: "app" means
// every instance of the application.
func splitAppInst(r *http.Request) (app, inst string, err error) {
	v, err := param(r, "appInst")
	if err != nil {
		return "", "", err
	}
	app, inst, _ = strings.Cut(strings.Trim(v, "/"), "/")
	if instance.CheckName(app, false) != nil {
		return "", "", badRequest("appInst names no application.")
	}
	return app, inst, nil
}

func (s *Server) cmdReloadApp(r *http.Request) (any, error) {
	app, inst, err := splitAppInst(r)
	if err != nil {
		return nil, err
	}
	done := s.Engine.Reload(app, inst)
	s.Logger.Info("admin: reloadApp", "app", app, "instance", inst, "unloaded", len(done))
	return done, nil
}

func (s *Server) cmdUnloadApp(r *http.Request) (any, error) {
	app, inst, err := splitAppInst(r)
	if err != nil {
		return nil, err
	}
	done := s.Engine.Unload(app, inst)
	if len(done) == 0 {
		return nil, fmt.Errorf("%w: no loaded instance of %s", errNotFound, r.Form.Get("appInst"))
	}
	s.Logger.Info("admin: unloadApp", "app", app, "instance", inst, "unloaded", len(done))
	return done, nil
}

// cmdDisconnectUsers closes the connections of the clients userId names
// (several: repeated or comma-separated) in appInst.
func (s *Server) cmdDisconnectUsers(r *http.Request) (any, error) {
	in, err := s.appInst(r)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range r.Form["userId"] {
		ids = append(ids, strings.Split(v, ",")...)
	}
	if len(ids) == 0 {
		return nil, badRequest("Missing parameter userId.")
	}
	out := []uint64{}
	for _, id := range ids {
		c, err := s.client(in, strings.TrimSpace(id))
		if err != nil {
			return nil, err
		}
		if s.kick(in, c) {
			out = append(out, c.ID)
		}
	}
	return out, nil
}

// kick closes a client's connection, pending or accepted.
func (s *Server) kick(in *instance.Instance, c *instance.Client) bool {
	if c.Peer == nil {
		return false
	}
	c.Peer.Close(amf.Undefined())
	s.Logger.Info("admin: client disconnected", "app", in.App, "instance", in.Name, "client", c.ID)
	return true
}

// cmdBroadcastMsg calls method on every client in scope: "Server",
// "App:<app>" or "App:<app>/<inst>" (FMS's "VHost" and "Adaptor" scopes
// mean the whole server here). arg0..argN are the call's arguments, as
// strings.
func (s *Server) cmdBroadcastMsg(r *http.Request) (any, error) {
	scope, err := param(r, "scope")
	if err != nil {
		return nil, err
	}
	method, err := param(r, "method")
	if err != nil {
		return nil, err
	}
	var args []amf.Value
	for i := 0; ; i++ {
		v, ok := r.Form["arg"+strconv.Itoa(i)]
		if !ok {
			break
		}
		args = append(args, amf.String(v[0]))
	}
	return s.broadcast(scope, method, args)
}

func (s *Server) broadcast(scope, method string, args []amf.Value) (any, error) {
	match, err := scopeMatcher(scope)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, in := range s.Engine.Instances() {
		if !match(in) {
			continue
		}
		for _, c := range in.Clients() {
			if c.Accepted() && c.Peer != nil && c.Peer.Call(method, args, nil) {
				n++
			}
		}
	}
	s.Logger.Info("admin: broadcastMsg", "scope", scope, "method", method, "clients", n)
	return map[string]int{"clients": n}, nil
}

func scopeMatcher(scope string) (func(*instance.Instance) bool, error) {
	// Adaptor and VHost prefixes name the one server there is.
	rest := scope
	for _, p := range []string{"Adaptor", "VHost"} {
		if h, t, ok := strings.Cut(rest, "/"); ok && (h == p || strings.HasPrefix(h, p+":")) {
			rest = t
		} else if rest == p || strings.HasPrefix(rest, p+":") {
			rest = ""
		}
	}
	switch {
	case rest == "" || rest == "Server":
		return func(*instance.Instance) bool { return true }, nil
	case strings.HasPrefix(rest, "App:"):
		app, inst, _ := strings.Cut(strings.TrimPrefix(rest, "App:"), "/")
		return func(in *instance.Instance) bool { return in.App == app && (inst == "" || in.Name == inst) }, nil
	}
	return nil, badRequest(`scope must be "Server", "App:<app>" or "App:<app>/<instance>".`)
}
