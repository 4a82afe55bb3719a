package instance

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/sharedobject"
)

// ErrInvalidApp means the application folder does not exist
// (NetConnection.Connect.InvalidApp).
var ErrInvalidApp = errors.New("instance: no such application")

// ErrShutdown means the manager is closing (NetConnection.Connect.AppShutdown).
var ErrShutdown = errors.New("instance: shutting down")

// Config configures a Manager. A zero field means its documented default.
type Config struct {
	// AppsDir is the applications folder; an application is a sub-folder.
	// Default "applications".
	AppsDir string `yaml:"apps"`
	// IdleUnload is how long an instance stays loaded with no clients.
	// Default 60s.
	IdleUnload time.Duration `yaml:"idle_unload"`
	// Media configures each instance's live streams.
	Media media.Config `yaml:"media"`
	// SharedObjects configures each instance's remote shared objects
	// (limits, delivery tick, persistence delay).
	SharedObjects sharedobject.Config `yaml:"shared_objects"`
	// PendingTimeout rejects a connection an application script left
	// pending for this long ("Connection timed out", ssas.md §3.5).
	// Default 60s.
	PendingTimeout time.Duration `yaml:"pending_timeout"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.AppsDir == "" {
		c.AppsDir = "applications"
	}
	if c.IdleUnload <= 0 {
		c.IdleUnload = 60 * time.Second
	}
	if c.PendingTimeout <= 0 {
		c.PendingTimeout = 60 * time.Second
	}
	c.Media = c.Media.WithDefaults()
	c.SharedObjects = c.SharedObjects.WithDefaults()
	return c
}

// Manager owns the loaded application instances.
//
// Lock order: Manager.mu before Instance.mu.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	instances map[string]*Instance // key app + "/" + instance
	nextID    uint64
	closed    bool
	loader    ScriptLoader
}

// NewManager returns a manager serving the applications under cfg.AppsDir.
// Its instances share one media.FileCache (cfg.Media.Files when set): the
// recordings in progress and the parsed recorded files of the server.
func NewManager(cfg Config, log *slog.Logger) *Manager {
	cfg = cfg.WithDefaults()
	if cfg.Media.Files == nil {
		cfg.Media.Files = media.NewFileCache(0)
	}
	return &Manager{cfg: cfg, log: log, instances: map[string]*Instance{}}
}

// Config returns the effective configuration.
func (m *Manager) Config() Config { return m.cfg }

// AppExists reports whether an application folder exists.
func (m *Manager) AppExists(app string) bool {
	if CheckName(app, false) != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(m.cfg.AppsDir, app))
	return err == nil && fi.IsDir()
}

// Connect admits a client to app/inst, loading the instance if needed.
// The client is registered before Connect returns; the caller must call
// Instance.Disconnect exactly once when the connection ends.
//
// Without an application script (or without info.Peer) the client is
// accepted when Connect returns. With one, Client.Deferred is true: the
// script decides later and the decision reaches info.Peer (Accept or
// Reject), possibly before Connect has returned. A script that does not
// compile fails the connect with ErrScript.
func (m *Manager) Connect(app, inst string, info ClientInfo) (*Instance, *Client, error) {
	if !m.AppExists(app) {
		return nil, nil, fmt.Errorf("%w: %q", ErrInvalidApp, app)
	}
	if err := CheckName(inst, true); err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, nil, ErrShutdown
	}
	key := app + "/" + inst
	in := m.instances[key]
	if in == nil {
		in = newInstance(m, app, inst)
		if err := in.loadScript(m.loader); err != nil {
			m.mu.Unlock()
			in.log.Error("application script not loaded", "err", err)
			in.unload(StopFailed)
			return nil, nil, err
		}
		m.instances[key] = in
		in.log.Info("instance loaded", "script", in.script != nil)
	}
	m.nextID++
	c := &Client{ID: m.nextID, ClientInfo: info, inst: in}
	c.deferred = in.script != nil && info.Peer != nil
	if !c.deferred {
		c.state.Store(stateAccepted)
	}
	in.add(c)
	m.mu.Unlock()
	if c.deferred {
		in.connectScript(c, info.Args)
	}
	return in, c, nil
}

// Instances returns the loaded instances (for the admin API and tests).
func (m *Manager) Instances() []*Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Instance, 0, len(m.instances))
	for _, in := range m.instances {
		out = append(out, in)
	}
	return out
}

// Close unloads every instance. Connections still registered see their
// streams end; they are closed by their transport.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	ins := m.instances
	m.instances = map[string]*Instance{}
	m.mu.Unlock()
	for _, in := range ins {
		in.unload(StopShutdown)
	}
}

// maybeUnload removes in if it is still idle. Called by the idle timer.
func (m *Manager) maybeUnload(in *Instance) {
	m.mu.Lock()
	key := in.App + "/" + in.Name
	if m.instances[key] != in || !in.idle() {
		m.mu.Unlock()
		return
	}
	delete(m.instances, key)
	m.mu.Unlock()
	in.unload(StopIdle)
}
