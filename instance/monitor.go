package instance

import (
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/status"
)

// Monitoring and administration: what the admin API and the metrics read
// of the engine, and the few actions they take. Counters are atomics
// updated once per connect, decision or unload, never per message.

// Counters count the clients of an instance or of every instance of an
// application. The instance-loading fields stay zero for an instance.
type Counters struct {
	connects, disconnects, accepted, rejected atomic.Uint64
	loaded, unloaded                          atomic.Uint64
}

// CountersSnapshot is what Counters hold.
type CountersSnapshot struct {
	Connects    uint64 // clients registered (accepted, rejected or pending)
	Disconnects uint64 // clients gone
	Accepted    uint64 // clients admitted, at once or by the script
	Rejected    uint64 // clients the script refused (or left pending too long)
	Loaded      uint64 // instances loaded (application counters only)
	Unloaded    uint64 // instances unloaded (application counters only)
}

// Load returns the counters.
func (c *Counters) Load() CountersSnapshot {
	return CountersSnapshot{
		Connects: c.connects.Load(), Disconnects: c.disconnects.Load(),
		Accepted: c.accepted.Load(), Rejected: c.rejected.Load(),
		Loaded: c.loaded.Load(), Unloaded: c.unloaded.Load(),
	}
}

// appCountersLocked returns the counters of app, made on first use.
// Called with m.mu held.
func (m *Manager) appCountersLocked(app string) *Counters {
	c := m.counters[app]
	if c == nil {
		c = &Counters{}
		m.counters[app] = c
	}
	return c
}

// AppCounters returns the counters of app since the start; zero for an
// application never connected to.
func (m *Manager) AppCounters(app string) CountersSnapshot {
	m.mu.Lock()
	c := m.counters[app]
	m.mu.Unlock()
	if c == nil {
		return CountersSnapshot{}
	}
	return c.Load()
}

// MediaTotals returns the counters of every publication that has ended
// on this server (media.Config.Totals).
func (m *Manager) MediaTotals() media.TotalsSnapshot { return m.cfg.Media.Totals.Load() }

// SharedObjectChanges returns how many times a shared object of this
// server changed version (a client's or a script's change, delete or
// clear).
func (m *Manager) SharedObjectChanges() uint64 { return m.soChanges.Load() }

// countAccepted counts an admitted client.
func (in *Instance) countAccepted() {
	in.ctr.accepted.Add(1)
	in.app.accepted.Add(1)
}

// Counters returns the instance's client counters.
func (in *Instance) Counters() CountersSnapshot { return in.ctr.Load() }

// Since returns when the instance loaded.
func (in *Instance) Since() time.Time { return in.since }

// Script returns the instance's application script, nil without one. Tools
// type-assert it to what they can show (the ssas runtime's statistics).
func (in *Instance) Script() Script { return in.script }

// Lookup returns the loaded instance app/inst, or nil.
func (m *Manager) Lookup(app, inst string) *Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.instances[app+"/"+inst]
}

// Unload unloads the loaded instance app/inst, or every loaded instance of
// app when inst is "": each client gets NetConnection.Connect.AppShutdown
// and is closed, application.onAppStop runs, streams end and shared objects
// are saved. It waits for that and returns the instances unloaded ("app/inst").
// The next connect loads the instance anew.
func (m *Manager) Unload(app, inst string) []string {
	m.mu.Lock()
	var ins []*Instance
	for _, in := range m.instances {
		if in.App == app && (inst == "" || in.Name == inst) && m.removeLocked(in) {
			ins = append(ins, in)
		}
	}
	m.mu.Unlock()
	names := make([]string, 0, len(ins))
	for _, in := range ins {
		in.log.Info("instance unloaded by the administrator")
		in.closeClients()
		in.unload(StopShutdown)
		names = append(names, in.App+"/"+in.Name)
	}
	return names
}

// Reload is Unload, and it also forgets a failed load of app's script, so
// that the next connect compiles the application's files again at once
// instead of after Config.ScriptRetry.
func (m *Manager) Reload(app, inst string) []string {
	m.mu.Lock()
	delete(m.failed, app)
	m.mu.Unlock()
	return m.Unload(app, inst)
}

// Reconnecter is implemented by peers whose client can be asked to
// connect again (E-RTMP's NetConnection.Connect.ReconnectRequest): the
// drain asks them before it tells them AppShutdown, so that a client
// that supports it comes back to a restarted server or another node
// instead of giving up.
type Reconnecter interface {
	// RequestReconnect sends the request when the client advertised
	// support for it, and reports whether it did. tcURL "" means the
	// same address.
	RequestReconnect(tcURL, description string) bool
}

// DrainCounts is what Drain told the clients.
type DrainCounts struct {
	Clients   int // sent AppShutdown and closed once that is flushed
	Reconnect int // of those, also asked to reconnect first
}

// Drain starts a graceful shutdown: new connects are refused
// (NetConnection.Connect.AppShutdown) and every client is asked to
// reconnect when it supports that, then sent
// NetConnection.Connect.AppShutdown and closed once that is flushed. The
// instances stay loaded, so that publishers' recordings end as their
// connections do and Close runs onAppStop and saves the shared objects
// afterwards.
func (m *Manager) Drain() DrainCounts {
	m.mu.Lock()
	m.closed = true
	ins := make([]*Instance, 0, len(m.instances))
	for _, in := range m.instances {
		ins = append(ins, in)
	}
	m.mu.Unlock()
	var n DrainCounts
	info := status.Info(status.ConnectAppShutdown, "The server is shutting down.")
	for _, in := range ins {
		for _, c := range in.Clients() {
			if c.Peer == nil {
				continue
			}
			n.Clients++
			if r, ok := c.Peer.(Reconnecter); ok && r.RequestReconnect("", "The server is shutting down: connect again.") {
				n.Reconnect++
			}
			c.Peer.Close(info)
		}
	}
	return n
}

// SharedObjectsSaved returns how many times a persistent shared object
// was written to disk since the start, by every instance, unloaded ones
// included.
func (m *Manager) SharedObjectsSaved() uint64 {
	n := m.soSaved.Load()
	for _, in := range m.Instances() {
		n += in.sos.Saves()
	}
	return n
}

// NumClients returns the clients of every loaded instance.
func (m *Manager) NumClients() int {
	n := 0
	for _, in := range m.Instances() {
		in.mu.Lock()
		n += len(in.clients)
		in.mu.Unlock()
	}
	return n
}
