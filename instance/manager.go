package instance

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/sharedobject"
)

// ErrInvalidApp means the application folder does not exist
// (NetConnection.Connect.InvalidApp).
var ErrInvalidApp = errors.New("instance: no such application")

// ErrShutdown means the manager is closing (NetConnection.Connect.AppShutdown).
var ErrShutdown = errors.New("instance: shutting down")

// ErrTooManyInstances means a new instance would pass Config.MaxPerApp or
// MaxTotal and none is idle enough to make room
// (NetConnection.Connect.Rejected).
var ErrTooManyInstances = errors.New("instance: too many instances")

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
	// Playback bounds the players of recorded and live streams
	// (docs/playback.md).
	Playback playback.Config `yaml:"playback"`
	// PendingTimeout rejects a connection an application script left
	// pending for this long ("Connection timed out", docs/ssas.md#accepting-and-rejecting-connections).
	// Default 60s.
	PendingTimeout time.Duration `yaml:"pending_timeout"`
	// MaxPerApp bounds the instances of one application loaded at once.
	// An instance with no clients (waiting for IdleUnload) is unloaded
	// early to make room; when every one has clients, the connect is
	// refused. Default 1000.
	MaxPerApp int `yaml:"max_per_app"`
	// MaxTotal bounds the instances of every application together, in
	// the same way. Default 2000 (a scripted instance holds about 200 KB).
	MaxTotal int `yaml:"max_total"`
	// ScriptRetry is how long an application whose script failed to load
	// (a syntax error, an exception in its top-level code or onAppStart)
	// stays failed: connects are rejected without loading it again,
	// unless one of its script files changes. Default 10s.
	ScriptRetry time.Duration `yaml:"script_retry"`
	// Quota bounds the disk each application fills through the network
	// and its script.
	Quota QuotaConfig `yaml:"quota"`
}

// QuotaConfig bounds the disk of one application. A zero field means its
// default; a negative one, no limit.
type QuotaConfig struct {
	// RecordBytes bounds the bytes in the application's streams folder
	// (recordings, and whatever else is there). A recording that would
	// pass it is refused (NetStream.Record.NoAccess) or ended
	// (NetStream.Record.Failed). Default 4 GiB.
	RecordBytes int64 `yaml:"record_bytes"`
	// RecordFiles bounds the files in it. Default 10000.
	RecordFiles int `yaml:"record_files"`
	// FileBytes bounds the bytes of the application's folder outside its
	// streams and shared objects, which its script writes through File:
	// a write past it fails (returns false). Default 256 MiB.
	FileBytes int64 `yaml:"file_bytes"`
	// FileFiles bounds the files there. Default 10000.
	FileFiles int `yaml:"file_files"`
}

func (q QuotaConfig) withDefaults() QuotaConfig {
	if q.RecordBytes == 0 {
		q.RecordBytes = 4 << 30
	}
	if q.RecordFiles == 0 {
		q.RecordFiles = 10000
	}
	if q.FileBytes == 0 {
		q.FileBytes = 256 << 20
	}
	if q.FileFiles == 0 {
		q.FileFiles = 10000
	}
	return q
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
	if c.MaxPerApp <= 0 {
		c.MaxPerApp = 1000
	}
	if c.MaxTotal <= 0 {
		c.MaxTotal = 2000
	}
	if c.ScriptRetry <= 0 {
		c.ScriptRetry = 10 * time.Second
	}
	c.Media = c.Media.WithDefaults()
	c.SharedObjects = c.SharedObjects.WithDefaults()
	c.Playback = c.Playback.WithDefaults()
	c.Quota = c.Quota.withDefaults()
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
	perApp    map[string]int       // loaded instances by application
	// soBudget bounds the shared objects of the server; appBudgets, its
	// children, those of each application (made on first use).
	soBudget   *sharedobject.Budget
	appBudgets map[string]*sharedobject.Budget
	quotas     map[string]*appQuotas // by application, made on first use
	nextID     uint64
	closed     bool
	loader     ScriptLoader
	failed     map[string]*failedLoad // app -> its script's last failed load (script.go)
	// counters of each application used since the start (monitor.go);
	// entries are never removed: one per application folder.
	counters map[string]*Counters
	// soChanges counts shared-object version changes (monitor.go).
	soChanges atomic.Uint64
	// appCfgs caches each application's application.yaml for the
	// checks made before an instance exists (access.go).
	appCfgs map[string]*appConfigCache
	// hookClient posts to access hooks; each request has its own
	// timeout.
	hookClient *http.Client
	streamObs  func(app, inst string, reg *media.Registry) media.Observer // SetStreamObserver
	owner      Owner                                                      // SetOwner; nil: every instance runs here
	soSaved    atomic.Uint64                                              // shared-object saves of unloaded instances
	soStore    func(app, inst string) sharedobject.Store                  // SetOwner; nil: the file store
}

// NewManager returns a manager serving the applications under cfg.AppsDir.
// Its instances share one media.FileCache (cfg.Media.Files when set): the
// recordings in progress and the parsed recorded files of the server.
func NewManager(cfg Config, log *slog.Logger) *Manager {
	cfg = cfg.WithDefaults()
	if cfg.Media.Files == nil {
		cfg.Media.Files = media.NewFileCache(0)
	}
	if cfg.Media.Totals == nil {
		cfg.Media.Totals = &media.Totals{}
	}
	m := &Manager{cfg: cfg, log: log, instances: map[string]*Instance{}, perApp: map[string]int{},
		soBudget:   sharedobject.NewBudget("server", cfg.SharedObjects.ServerBudget),
		appBudgets: map[string]*sharedobject.Budget{}, quotas: map[string]*appQuotas{},
		counters: map[string]*Counters{}, appCfgs: map[string]*appConfigCache{},
		hookClient: &http.Client{}}
	// The server's disk budget counts the files every application already
	// has, not only those of the applications used since the start.
	if ents, err := os.ReadDir(cfg.AppsDir); err == nil {
		m.mu.Lock()
		for _, e := range ents {
			if e.IsDir() && CheckName(e.Name(), false) == nil {
				m.appBudgetLocked(e.Name())
			}
		}
		m.mu.Unlock()
	}
	return m
}

// appBudgetLocked returns the shared-object budget of app, counting its
// stored objects when it is made. Called with m.mu held.
func (m *Manager) appBudgetLocked(app string) *sharedobject.Budget {
	if b := m.appBudgets[app]; b != nil {
		return b
	}
	b := m.soBudget.Child("application "+app, m.cfg.SharedObjects.AppBudget)
	if err := b.ChargeStored(filepath.Join(m.cfg.AppsDir, app, "sharedobjects")); err != nil {
		m.log.Warn("stored shared objects not all counted", "app", app, "err", err)
	}
	m.appBudgets[app] = b
	return b
}

// appQuotas are the disk quotas of one application.
type appQuotas struct {
	record, file *media.Quota
}

// quotasLocked returns app's quotas. Their folders are walked on first
// use, not here. Called with m.mu held.
func (m *Manager) quotasLocked(app string) *appQuotas {
	if q := m.quotas[app]; q != nil {
		return q
	}
	dir := filepath.Join(m.cfg.AppsDir, app)
	streams := func() string {
		cfg, err := LoadAppConfig(dir)
		if err != nil {
			cfg = AppConfig{}.WithDefaults()
		}
		if filepath.IsAbs(cfg.Streams) {
			return cfg.Streams
		}
		return filepath.Join(dir, cfg.Streams)
	}
	qc := m.cfg.Quota
	q := &appQuotas{
		record: media.NewQuota("recordings of "+app, qc.RecordFiles, qc.RecordBytes,
			func() []string { return []string{streams()} }),
		file: media.NewQuota("files of "+app, qc.FileFiles, qc.FileBytes,
			func() []string { return []string{dir} }, streams(), filepath.Join(dir, "sharedobjects")),
	}
	m.quotas[app] = q
	return q
}

// SharedObjectUsage returns what the shared objects of app (all
// applications when app is "") hold.
func (m *Manager) SharedObjectUsage(app string) sharedobject.Usage {
	m.mu.Lock()
	b := m.soBudget
	if app != "" {
		b = m.appBudgetLocked(app)
	}
	m.mu.Unlock()
	return b.Usage()
}

// Config returns the effective configuration.
func (m *Manager) Config() Config { return m.cfg }

// appDir is the folder of application app.
func (m *Manager) appDir(app string) string { return filepath.Join(m.cfg.AppsDir, app) }

// AppExists reports whether an application folder exists.
func (m *Manager) AppExists(app string) bool {
	if CheckName(app, false) != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(m.cfg.AppsDir, app))
	return err == nil && fi.IsDir()
}

// Apps returns the names of the application folders, sorted: what a
// client may connect to, loaded or not. Folders whose names no client
// could use (hidden, or failing CheckName) are left out.
func (m *Manager) Apps() ([]string, error) {
	entries, err := os.ReadDir(m.cfg.AppsDir)
	if err != nil {
		return nil, fmt.Errorf("instance: applications folder: %w", err)
	}
	var apps []string
	for _, e := range entries { // ReadDir sorts by name
		if name := e.Name(); !strings.HasPrefix(name, ".") && m.AppExists(name) { // follows symlinks, as Connect does
			apps = append(apps, name)
		}
	}
	return apps, nil
}

// Connect admits a client to app/inst, loading the instance if needed.
// The client is registered before Connect returns; the caller must call
// Instance.Disconnect exactly once when the connection ends.
//
// Without an application script (or without info.Peer) the client is
// accepted when Connect returns. With one, Client.Deferred is true: the
// script decides later and the decision reaches info.Peer (Accept or
// Reject), possibly before Connect has returned. A script that does not
// compile fails the connect with an error wrapping ErrScript; so does every
// connect to that application for Config.ScriptRetry after it failed to
// compile or to start (Instance.FailStart), unless its files change.
func (m *Manager) Connect(app, inst string, info ClientInfo) (*Instance, *Client, error) {
	if !m.AppExists(app) {
		return nil, nil, fmt.Errorf("%w: %q", ErrInvalidApp, app)
	}
	if err := CheckName(inst, true); err != nil {
		return nil, nil, err
	}
	// The owner's node checks access; an edge only relays.
	hold, err := m.own(app, inst)
	if err != nil {
		return nil, nil, err
	}
	if err := m.checkConnect(app, inst, info); err != nil {
		if hold != nil {
			hold.Release()
		}
		return nil, nil, err
	}
	key := app + "/" + inst
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		if hold != nil {
			hold.Release()
		}
		return nil, nil, ErrShutdown
	}
	in := m.instances[key]
	if in != nil && hold != nil {
		// Loaded meanwhile by another connect, which holds its own.
		defer hold.Release()
		hold = nil
	}
	var evicted *Instance
	loaded := in == nil
	if in == nil {
		if err := m.recentFailure(app); err != nil {
			m.mu.Unlock()
			if hold != nil {
				hold.Release()
			}
			return nil, nil, err
		}
		var err error
		if evicted, err = m.makeRoomLocked(app); err != nil {
			m.mu.Unlock()
			if hold != nil {
				hold.Release()
			}
			m.log.Warn("connect refused", "app", app, "instance", inst, "err", err)
			return nil, nil, err
		}
		in = newInstance(m, app, inst, hold != nil)
		if hold != nil {
			m.watchHold(in, hold) // released once in has unloaded, even if it fails to load
		}
		if m.streamObs != nil {
			in.streams.SetObserver(m.streamObs(app, inst, in.streams))
		}
		in.sos.SetBudget(m.appBudgetLocked(app))
		in.sos.SetChangeCounter(&m.soChanges)
		in.quotas = m.quotasLocked(app)
		if err := in.loadScript(m.loader); err != nil {
			m.rememberFailure(app, err)
			m.mu.Unlock()
			in.unload(StopFailed)
			if evicted != nil {
				evicted.unload(StopIdle)
			}
			return nil, nil, err
		}
		in.sos.SetClientPersistent(in.clientPersistent())
		m.addLocked(key, in)
		in.app.loaded.Add(1)
		in.log.Info("instance loaded", "script", in.script != nil)
	}
	m.nextID++
	c := &Client{ID: m.nextID, Since: time.Now(), ClientInfo: info, inst: in}
	c.deferred = in.script != nil && info.Peer != nil
	if !c.deferred {
		c.state.Store(stateAccepted)
		in.everAccepted.Store(true)
		in.countAccepted()
	}
	in.add(c)
	m.mu.Unlock()
	if evicted != nil {
		// Outside m.mu: onAppStop may take up to the script budget, and
		// this connect waits for it rather than let memory run ahead.
		evicted.unload(StopIdle)
	}
	if c.deferred {
		in.connectScript(c, info.Args)
	}
	if st, ok := in.script.(Starter); ok && loaded {
		st.Start()
	}
	return in, c, nil
}

// makeRoomLocked checks that one more instance of app fits MaxPerApp and
// MaxTotal. At a limit it detaches the instance idle longest among those
// that count towards it and returns it for the caller to unload after
// releasing m.mu. Called with m.mu held.
func (m *Manager) makeRoomLocked(app string) (*Instance, error) {
	var sameApp bool
	switch {
	case m.perApp[app] >= m.cfg.MaxPerApp:
		sameApp = true
	case len(m.instances) >= m.cfg.MaxTotal:
	default:
		return nil, nil
	}
	var victim *Instance
	var since time.Time
	for _, in := range m.instances {
		if sameApp && in.App != app {
			continue
		}
		if t, ok := in.idleSince(); ok && (victim == nil || t.Before(since)) {
			victim, since = in, t
		}
	}
	if victim == nil {
		if sameApp {
			return nil, fmt.Errorf("%w: %d instances of %q, none idle", ErrTooManyInstances, m.perApp[app], app)
		}
		return nil, fmt.Errorf("%w: %d instances, none idle", ErrTooManyInstances, len(m.instances))
	}
	m.removeLocked(victim)
	victim.log.Info("idle instance unloaded early to make room")
	return victim, nil
}

// addLocked registers a loaded instance. Called with m.mu held.
func (m *Manager) addLocked(key string, in *Instance) {
	m.instances[key] = in
	m.perApp[in.App]++
}

// removeLocked forgets in if it is still registered; it reports whether
// it was. Called with m.mu held.
func (m *Manager) removeLocked(in *Instance) bool {
	key := in.App + "/" + in.Name
	if m.instances[key] != in {
		return false
	}
	delete(m.instances, key)
	if m.perApp[in.App]--; m.perApp[in.App] <= 0 {
		delete(m.perApp, in.App)
	}
	return true
}

// clientPersistent tells whether clients may create persistent shared
// objects in the instance: application.yaml's shared_objects.
// client_persistent, else whether the application has a script.
func (in *Instance) clientPersistent() bool {
	cfg, err := in.AppConfig()
	if err != nil {
		in.log.Warn("application.yaml not read", "err", err)
	}
	if p := cfg.SharedObjects.ClientPersistent; err == nil && p != nil {
		return *p
	}
	return in.script != nil
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

// Close unloads every instance: onAppStop runs, streams end (recordings
// close), shared objects are saved. Connections still registered see
// their streams end; they are closed by their transport. The instances
// unload at once, each on its own goroutine, so that a server stop takes
// as long as the slowest onAppStop, not the sum of them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	ins := m.instances
	m.instances = map[string]*Instance{}
	clear(m.perApp)
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() { in.unload(StopShutdown) })
	}
	wg.Wait()
}

// maybeUnload removes in if it is still idle. Called by the idle timer,
// and at once when an instance's only clients were all refused.
func (m *Manager) maybeUnload(in *Instance) {
	m.mu.Lock()
	if _, idle := in.idleSince(); !idle || !m.removeLocked(in) {
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	in.unload(StopIdle)
}

// SetStreamObserver installs f, which gives each new instance's stream
// registry its observer (media.Observer): how a scale-out layer learns of
// the streams published and awaited here. Call it before the first Connect.
func (m *Manager) SetStreamObserver(f func(app, inst string, reg *media.Registry) media.Observer) {
	m.mu.Lock()
	m.streamObs = f
	m.mu.Unlock()
}
