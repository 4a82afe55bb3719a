package instance

import (
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/sharedobject"
)

// ClientInfo is what a transport knows about a connecting client
// (Client.ip, agent, referrer, protocol, ... in SSAS terms).
type ClientInfo struct {
	IP       string
	Agent    string // flashVer
	Referrer string // swfUrl
	PageURL  string
	Protocol string // rtmp, rtmpt, rtmps, rtmpts, ws
	Encoding int    // objectEncoding, 0 or 3
	Query    string // query string of the connect URL
	URI      string // tcUrl
	// Args are the connect command's extra arguments (the parameters of
	// application.onConnect after the client).
	Args []amf.Value
	// Peer is the transport's handle on the client (server-to-client
	// calls, deferred accept/reject, close); nil for clients that need
	// none (tools, tests). A client without a Peer is accepted at once.
	Peer Peer
}

// Client is one connection admitted to an instance.
type Client struct {
	ID uint64
	// Since is when the client connected.
	Since time.Time
	ClientInfo
	inst *Instance
	clientState
}

// Instance is one running application instance: its clients and streams.
type Instance struct {
	App  string
	Name string

	m       *Manager
	log     *slog.Logger
	streams *media.Registry
	sos     *sharedobject.Registry
	script  Script     // nil without an application script; set before the instance is shared
	quotas  *appQuotas // the application's disk quotas; set before the instance is shared
	appCfg  appConfigCache
	since   time.Time // when the instance loaded
	// ctr counts this instance's clients, app those of every instance of
	// the application (monitor.go).
	ctr, app *Counters

	// everAccepted is set once a client has been accepted: an instance
	// that only ever refused (or lost) its clients unloads as soon as the
	// last one leaves instead of waiting for IdleUnload.
	everAccepted atomic.Bool

	mu        sync.Mutex
	clients   map[uint64]*Client
	pubs      map[string]clientPub // clients' publications, by stream (script.go)
	idleTimer *time.Timer
	idleAt    time.Time // when the last client left; zero while clients are connected
	unloaded  bool
	// gone is closed once the instance has unloaded (its shared objects
	// saved): what an Owner's Hold waits for before it is released.
	gone chan struct{}
}

func newInstance(m *Manager, app, name string, owned bool) *Instance {
	log := m.log.With("app", app, "instance", name)
	// Persistent shared objects: applications/<app>/sharedobjects/<instance>/ (docs/shared-objects.md#persistence),
	// or the cluster's store for an instance with one owner, which another
	// node loads them from when it takes over (docs/cluster.md#failover).
	var store sharedobject.Store = &sharedobject.FileStore{
		Dir:          filepath.Join(m.cfg.AppsDir, app, "sharedobjects", FolderName(name)),
		MaxNameBytes: m.cfg.SharedObjects.MaxNameBytes,
	}
	if owned && m.soStore != nil {
		store = m.soStore(app, name)
	}
	return &Instance{
		App:     app,
		Name:    name,
		m:       m,
		log:     log,
		since:   time.Now(),
		ctr:     &Counters{},
		app:     m.appCountersLocked(app),
		streams: media.NewRegistry(m.cfg.Media, log),
		sos:     sharedobject.NewRegistry(m.cfg.SharedObjects, store, log),
		clients: map[uint64]*Client{},
		gone:    make(chan struct{}),
	}
}

// RecordQuota returns the disk quota of the application's recordings
// (media.RecordOptions.Quota); nil means none.
func (in *Instance) RecordQuota() *media.Quota {
	if in.quotas == nil {
		return nil
	}
	return in.quotas.record
}

// FileQuota returns the disk quota of the files the application's script
// writes; nil means none.
func (in *Instance) FileQuota() *media.Quota {
	if in.quotas == nil {
		return nil
	}
	return in.quotas.file
}

// Streams returns the instance's live streams.
func (in *Instance) Streams() *media.Registry { return in.streams }

// SharedObjects returns the instance's remote shared objects.
func (in *Instance) SharedObjects() *sharedobject.Registry { return in.sos }

// Logger returns the instance's logger (with app and instance attributes).
func (in *Instance) Logger() *slog.Logger { return in.log }

// Clients returns the connected clients.
func (in *Instance) Clients() []*Client {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]*Client, 0, len(in.clients))
	for _, c := range in.clients {
		out = append(out, c)
	}
	return out
}

func (in *Instance) add(c *Client) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.clients[c.ID] = c
	in.ctr.connects.Add(1)
	in.app.connects.Add(1)
	in.idleAt = time.Time{}
	if in.idleTimer != nil {
		in.idleTimer.Stop()
		in.idleTimer = nil
	}
}

// Disconnect removes c. When the last client leaves, the instance unloads
// after the manager's IdleUnload unless someone connects meanwhile.
func (in *Instance) Disconnect(c *Client) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.clients[c.ID]; !ok {
		return
	}
	delete(in.clients, c.ID)
	in.ctr.disconnects.Add(1)
	in.app.disconnects.Add(1)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	wasAccepted := c.state.Swap(stateGone) == stateAccepted
	if wasAccepted && in.script != nil {
		// Posted to the script's loop; never blocks.
		defer in.script.Disconnect(c)
	}
	if len(in.clients) == 0 && !in.unloaded {
		in.idleAt = time.Now()
		wait := in.m.cfg.IdleUnload
		if !in.everAccepted.Load() {
			// Nobody was ever admitted: keeping the instance would let
			// refused connects to distinct names pile instances up.
			wait = 0
		}
		in.idleTimer = time.AfterFunc(wait, func() { in.m.maybeUnload(in) })
	}
}

// idleSince reports since when the instance has had no clients.
func (in *Instance) idleSince() (time.Time, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.idleAt, len(in.clients) == 0 && !in.unloaded
}

func (in *Instance) unload(reason string) {
	in.mu.Lock()
	if in.unloaded {
		in.mu.Unlock()
		return
	}
	in.unloaded = true
	if in.idleTimer != nil {
		in.idleTimer.Stop()
		in.idleTimer = nil
	}
	in.mu.Unlock()
	in.app.unloaded.Add(1)
	if in.script != nil {
		in.script.Stop(reason) // onAppStop runs while streams and shared objects still exist
	}
	in.streams.Close()
	if err := in.sos.Close(); err != nil { // writes every changed persistent shared object
		in.log.Error("shared objects not saved", "err", err)
	}
	in.m.soSaved.Add(in.sos.Saves())
	close(in.gone)
	in.log.Info("instance unloaded", "reason", reason)
}
