package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
)

// The REST view of the same data (docs/admin-api.yaml): resources under
// /admin/api/v1, JSON bodies, errors as {"error": "..."} with a 4xx or
// 5xx status. Names are path segments; an instance or stream name that
// holds "/" is sent with it escaped (%2F).

const apiPrefix = "/admin/api/v1"

// apiError is the body of a failed REST request.
type apiError struct {
	Error string `json:"error"`
}

func (s *Server) restRoutes(mux *http.ServeMux) {
	h := func(pattern string, f func(r *http.Request) (any, error)) {
		s.restPatterns = append(s.restPatterns, pattern)
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			v, err := f(r)
			if err != nil {
				writeJSON(w, errStatus(err), apiError{err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	p := apiPrefix
	h("GET "+p+"/server", func(*http.Request) (any, error) { return s.serverStats(), nil })
	h("GET "+p+"/apps", func(*http.Request) (any, error) {
		apps, err := s.Engine.Apps()
		if err != nil {
			return nil, err
		}
		out := make([]AppStats, 0, len(apps))
		for _, a := range apps {
			out = append(out, s.appStats(a))
		}
		return out, nil
	})
	h("GET "+p+"/apps/{app}", func(r *http.Request) (any, error) {
		app := r.PathValue("app")
		apps, err := s.Engine.Apps()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(apps, app) {
			return nil, fmt.Errorf("%w: no application %q", errNotFound, app)
		}
		return s.appStats(app), nil
	})
	h("POST "+p+"/apps/{app}/reload", func(r *http.Request) (any, error) {
		return s.restUnload(r, r.PathValue("app"), "", true)
	})
	h("POST "+p+"/apps/{app}/unload", func(r *http.Request) (any, error) {
		return s.restUnload(r, r.PathValue("app"), "", false)
	})
	h("GET "+p+"/instances", func(*http.Request) (any, error) {
		ins := sortedInstances(s.Engine.Instances())
		out := make([]InstanceStats, 0, len(ins))
		for _, in := range ins {
			out = append(out, s.instanceStats(in))
		}
		return out, nil
	})
	inst := p + "/instances/{app}/{inst}"
	h("GET "+inst, func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		return s.instanceStats(in), nil
	})
	h("POST "+inst+"/reload", func(r *http.Request) (any, error) {
		return s.restUnload(r, r.PathValue("app"), r.PathValue("inst"), true)
	})
	h("POST "+inst+"/unload", func(r *http.Request) (any, error) {
		return s.restUnload(r, r.PathValue("app"), r.PathValue("inst"), false)
	})
	h("POST "+inst+"/broadcast", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		var body struct {
			Method string `json:"method"`
			Args   []any  `json:"args"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Method == "" {
			return nil, badRequest(`want a JSON body {"method": "name", "args": [...]}`)
		}
		args := make([]amf.Value, 0, len(body.Args))
		for _, a := range body.Args {
			args = append(args, fromJSON(a, 16))
		}
		return s.broadcast("App:"+in.App+"/"+in.Name, body.Method, args)
	})
	h("GET "+inst+"/clients", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		streams := in.Streams().Snapshot()
		out := []ClientStats{}
		for _, c := range sortedClients(in.Clients()) {
			out = append(out, clientStats(in, c, streams))
		}
		return out, nil
	})
	h("GET "+inst+"/clients/{id}", func(r *http.Request) (any, error) {
		in, c, err := s.pathClient(r)
		if err != nil {
			return nil, err
		}
		st := clientStats(in, c, nil)
		if c.Peer != nil {
			c.Peer.Ping()
		}
		return st, nil
	})
	h("DELETE "+inst+"/clients/{id}", func(r *http.Request) (any, error) {
		in, c, err := s.pathClient(r)
		if err != nil {
			return nil, err
		}
		return map[string]bool{"disconnected": s.kick(in, c)}, nil
	})
	h("GET "+inst+"/streams", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		out := []StreamStats{}
		for _, ss := range in.Streams().Snapshot() {
			out = append(out, s.streamStats(in, ss, now))
		}
		return out, nil
	})
	h("GET "+inst+"/streams/{stream}", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		st, err := s.stream(in, r.PathValue("stream"))
		if err != nil {
			return nil, err
		}
		return struct {
			StreamStats
			Metadata map[string]any `json:"metadata,omitempty"`
		}{st, st.metaProps}, nil
	})
	h("GET "+inst+"/netstreams", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		return netStreams(in), nil
	})
	h("GET "+inst+"/sharedobjects", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		out := []SharedObjectStats{}
		for _, so := range in.SharedObjects().Objects() {
			out = append(out, soStats(so, false, 0))
		}
		return out, nil
	})
	h("GET "+inst+"/sharedobjects/{so}", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		so := in.SharedObjects().Lookup(r.PathValue("so"), r.URL.Query().Get("persistent") == "true")
		if so == nil {
			return nil, fmt.Errorf("%w: shared object %q is not loaded", errNotFound, r.PathValue("so"))
		}
		return soStats(so, true, s.cfg.MaxSOValueBytes), nil
	})
	h("DELETE "+inst+"/sharedobjects/{so}/data", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		so := in.SharedObjects().Lookup(r.PathValue("so"), r.URL.Query().Get("persistent") == "true")
		if so == nil {
			return nil, fmt.Errorf("%w: shared object %q is not loaded", errNotFound, r.PathValue("so"))
		}
		if err := so.Clear(); err != nil {
			return nil, err
		}
		s.Logger.Info("admin: shared object cleared", "app", in.App, "instance", in.Name, "so", so.Name(), "persistent", so.Persistent())
		return soStats(so, false, 0), nil
	})
	h("GET "+inst+"/script", func(r *http.Request) (any, error) {
		in, err := s.pathInstance(r)
		if err != nil {
			return nil, err
		}
		return scriptStats(in), nil
	})
	h("GET "+p+"/clients", func(*http.Request) (any, error) {
		out := []ClientStats{}
		for _, in := range sortedInstances(s.Engine.Instances()) {
			streams := in.Streams().Snapshot()
			for _, c := range sortedClients(in.Clients()) {
				out = append(out, clientStats(in, c, streams))
			}
		}
		return out, nil
	})
	h("GET "+p+"/streams", func(*http.Request) (any, error) {
		type row struct {
			Instance string `json:"instance"`
			StreamStats
		}
		now := time.Now()
		out := []row{}
		for _, in := range sortedInstances(s.Engine.Instances()) {
			for _, ss := range in.Streams().Snapshot() {
				out = append(out, row{in.App + "/" + in.Name, s.streamStats(in, ss, now)})
			}
		}
		return out, nil
	})
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{"no such resource (docs/admin-api.yaml lists them)"})
	})
}

func (s *Server) pathInstance(r *http.Request) (*instance.Instance, error) {
	in := s.Engine.Lookup(r.PathValue("app"), r.PathValue("inst"))
	if in == nil {
		return nil, fmt.Errorf("%w: instance %s/%s is not loaded", errNotFound, r.PathValue("app"), r.PathValue("inst"))
	}
	return in, nil
}

func (s *Server) pathClient(r *http.Request) (*instance.Instance, *instance.Client, error) {
	in, err := s.pathInstance(r)
	if err != nil {
		return nil, nil, err
	}
	if _, err := strconv.ParseUint(r.PathValue("id"), 10, 64); err != nil {
		return nil, nil, badRequest("a client id is a number")
	}
	c, err := s.client(in, r.PathValue("id"))
	return in, c, err
}

func (s *Server) restUnload(_ *http.Request, app, inst string, reload bool) (any, error) {
	if instance.CheckName(app, false) != nil {
		return nil, badRequest("bad application name")
	}
	var done []string
	if reload {
		done = s.Engine.Reload(app, inst)
	} else {
		done = s.Engine.Unload(app, inst)
	}
	s.Logger.Info("admin: instances unloaded", "app", app, "instance", inst, "reload", reload, "unloaded", len(done))
	if !reload && len(done) == 0 {
		return nil, fmt.Errorf("%w: nothing loaded for %s/%s", errNotFound, app, inst)
	}
	return map[string][]string{"unloaded": append([]string{}, done...)}, nil
}

// fromJSON converts a decoded JSON value into AMF for a broadcast.
func fromJSON(v any, depth int) amf.Value {
	if depth < 0 {
		return amf.Null()
	}
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
		es := make([]amf.Value, 0, len(x))
		for _, e := range x {
			es = append(es, fromJSON(e, depth-1))
		}
		return amf.StrictArray(es...)
	case map[string]any:
		props := make([]amf.Prop, 0, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			props = append(props, amf.Prop{Key: k, Value: fromJSON(x[k], depth-1)})
		}
		return amf.Object(props...)
	}
	return amf.Null()
}
