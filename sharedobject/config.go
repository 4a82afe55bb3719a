package sharedobject

import "time"

// Config bounds shared objects and tunes delivery and persistence. A zero
// field means its default (docs/shared-objects.md#limits names the defaults).
type Config struct {
	// MaxNameBytes bounds a shared object's name, in bytes. Default 255.
	MaxNameBytes int `yaml:"max_name_bytes"`
	// MaxSlots bounds the slots of one shared object. Default 10000.
	MaxSlots int `yaml:"max_slots"`
	// MaxBytes bounds the encoded size of one shared object's slots (keys
	// and values), in bytes. Default 4 MiB.
	MaxBytes int `yaml:"max_bytes"`
	// MaxPerInstance bounds the shared objects loaded in one instance.
	// Default 1000.
	MaxPerInstance int `yaml:"max_per_instance"`
	// MaxPerClient bounds the shared objects one connection uses at once.
	// Default 100.
	MaxPerClient int `yaml:"max_per_client"`
	// ChangeRate is the sustained rate of change, remove and send events
	// one connection may make, per second. Default 200.
	ChangeRate float64 `yaml:"change_rate"`
	// ChangeBurst is the burst allowance above ChangeRate; past it events
	// are refused (a Status and the current value go back), and a client
	// that has more than ChangeBurst events refused in a row is
	// disconnected. Default 1000.
	ChangeBurst int `yaml:"change_burst"`
	// Coalesce is the delivery tick: changes to one shared object that come
	// within this interval of its last delivery are coalesced into one
	// message per subscriber. Default 10ms.
	Coalesce time.Duration `yaml:"coalesce"`
	// FlushDelay is how long a changed persistent shared object waits
	// before it is written to its store (changes during the wait go into
	// the same write). Default 2s.
	FlushDelay time.Duration `yaml:"flush_delay"`
	// MaxTombstones bounds the deleted-slot records kept for delta resync
	// of returning clients (docs/shared-objects.md#versions-and-resync); past it the oldest are dropped and
	// clients older than them get a full resync. Default 10000.
	MaxTombstones int `yaml:"max_tombstones"`
	// MaxLockedEvents bounds the client events queued while a script holds
	// the object locked; more are refused. Default 10000.
	MaxLockedEvents int `yaml:"max_locked_events"`
	// AppBudget bounds the shared objects of all instances of one
	// application together: loaded objects and their bytes, stored
	// files and their bytes. Defaults 5000 objects, 64 MiB, 10000
	// files, 256 MiB.
	AppBudget BudgetLimits `yaml:"app_budget"`
	// ServerBudget bounds those of every application together. Defaults
	// 20000 objects, 128 MiB, 50000 files, 1 GiB.
	ServerBudget BudgetLimits `yaml:"server_budget"`
}

// Budget defaults: the bytes of a loaded object's slots cost several
// times as much in decoded values and queued messages, so memory is held
// tighter than disk.
var (
	defaultAppBudget    = BudgetLimits{MaxObjects: 5000, MaxBytes: 64 << 20, MaxFiles: 10000, MaxDiskBytes: 256 << 20}
	defaultServerBudget = BudgetLimits{MaxObjects: 20000, MaxBytes: 128 << 20, MaxFiles: 50000, MaxDiskBytes: 1 << 30}
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxNameBytes <= 0 {
		c.MaxNameBytes = 255
	}
	if c.MaxSlots <= 0 {
		c.MaxSlots = 10000
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 4 << 20
	}
	if c.MaxPerInstance <= 0 {
		c.MaxPerInstance = 1000
	}
	if c.MaxPerClient <= 0 {
		c.MaxPerClient = 100
	}
	if c.ChangeRate <= 0 {
		c.ChangeRate = 200
	}
	if c.ChangeBurst <= 0 {
		c.ChangeBurst = 1000
	}
	if c.Coalesce <= 0 {
		c.Coalesce = 10 * time.Millisecond
	}
	if c.FlushDelay <= 0 {
		c.FlushDelay = 2 * time.Second
	}
	if c.MaxTombstones <= 0 {
		c.MaxTombstones = 10000
	}
	if c.MaxLockedEvents <= 0 {
		c.MaxLockedEvents = 10000
	}
	c.AppBudget = c.AppBudget.withDefaults(defaultAppBudget)
	c.ServerBudget = c.ServerBudget.withDefaults(defaultServerBudget)
	return c
}
