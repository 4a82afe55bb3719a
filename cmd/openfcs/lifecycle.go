package main

import (
	"bytes"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Reload and drain (docs/operations.md#reload-and-drain).
//
// SIGHUP reads the configuration file again (with the command line's
// flags on top) and applies what can change under running clients: the
// TLS certificate (new handshakes get the new one), the log level and the
// admin token. Other changed sections are named in one warning: they take
// a restart. Applications need no reload: application.yaml, new
// application folders and changed main.asc files are read when an
// instance loads (the admin API's reloadApp restarts running instances).
//
// SIGTERM drains: readiness turns false, the ports stop accepting, every
// client is told NetConnection.Connect.AppShutdown and closed once that is
// flushed, publishers' recordings end as their connections do, and the
// server waits for the connections to go, up to drain_timeout, before it
// closes what remains and saves the shared objects.

// reload applies a re-read configuration. Errors keep what is in force.
func (s *server) reload() {
	s.log.Info("reloading (SIGHUP)")
	if s.cfg.reparse == nil {
		s.log.Warn("reload: no configuration source to read again")
		return
	}
	next, err := s.cfg.reparse()
	if err != nil {
		s.log.Error("reload: configuration refused, nothing changed", "err", err)
		return
	}
	var applied []string
	if s.certs != nil {
		if err := s.certs.Reload(next.TLS.CertFile, next.TLS.KeyFile); err != nil {
			s.log.Error("reload: TLS certificate not read, the old one stays", "err", err)
		} else {
			applied = append(applied, "tls certificate")
		}
	}
	if next.Log.Level != s.cfg.Log.Level {
		if err := s.level.UnmarshalText([]byte(next.Log.Level)); err == nil {
			applied = append(applied, "log.level")
		}
	}
	if s.adminAPI != nil && next.Admin.Token != s.cfg.Admin.Token && next.Admin.Token != "" {
		s.adminAPI.SetToken(next.Admin.Token)
		applied = append(applied, "admin.token")
	}
	if restart := needsRestart(s.cfg, next); len(restart) > 0 {
		s.log.Warn("reload: changed keys take effect after a restart", "sections", restart)
	}
	// What is in force now: the applied keys of next, the rest as before.
	cur := s.cfg
	cur.TLS.CertFile, cur.TLS.KeyFile = next.TLS.CertFile, next.TLS.KeyFile
	cur.Log.Level = next.Log.Level
	if next.Admin.Token != "" {
		cur.Admin.Token = next.Admin.Token
	}
	s.cfg = cur
	s.log.Info("reloaded", "applied", applied)
}

// needsRestart names the top-level sections that differ between a and b
// other than what reload applies.
func needsRestart(a, b Config) []string {
	norm := func(c Config) map[string]any {
		c.TLS.CertFile, c.TLS.KeyFile = "", ""
		c.Log.Level = ""
		c.Admin.Token = ""
		out, _ := yaml.Marshal(c.effective())
		var m map[string]any
		_ = yaml.Unmarshal(out, &m)
		return m
	}
	ma, mb := norm(a), norm(b)
	var diff []string
	for k, va := range ma {
		x, _ := yaml.Marshal(va)
		y, _ := yaml.Marshal(mb[k])
		if !bytes.Equal(x, y) {
			diff = append(diff, k)
		}
	}
	slices.Sort(diff)
	return diff
}

// drainCounts is what the drain's first line reports, and what its last
// line compares against.
type drainCounts struct {
	start      time.Time
	clients    int    // told AppShutdown
	reconnect  int    // of those, asked to reconnect first (E-RTMP)
	recordings int64  // being written when the drain began
	soSaved    uint64 // shared-object saves before the drain
}

// drainStart turns readiness off, stops every listener accepting, tells
// every client and waits for them to leave, until drain_timeout.
// Connections that never connected to an application (a handshake, a
// tool) are not waited for: shutdown closes them.
func (s *server) drainStart() {
	s.draining.Store(true) // /readyz answers 503, HTTP/3 refuses new QUIC connections (h3Refuse)
	timeout := s.cfg.DrainTimeout
	if timeout <= 0 {
		timeout = defaultDrainTimeout
	}
	s.drainDeadline = time.Now().Add(timeout)
	s.mux.StopAccepting() // RTMP, RTMPS and HTTP (RTMPT, WebSocket, WHIP/WHEP) ports
	d := drainCounts{start: time.Now(), recordings: s.engine.MediaTotals().Recording, soSaved: s.engine.SharedObjectsSaved()}
	n := s.engine.Drain()
	d.clients, d.reconnect = n.Clients, n.Reconnect
	s.drained = d
	s.log.Info("draining", "clients", d.clients, "reconnect_requested", d.reconnect, "recordings", d.recordings,
		"rtmpt_sessions", s.tun.NumSessions(), "timeout", timeout)
	// The last part of drain_timeout (a fifth, at most a second) is kept
	// for shutdown to close what remains, so that the process ends within
	// drain_timeout, onAppStop and the saves apart.
	waitUntil := s.drainDeadline.Add(-min(time.Second, timeout/5))
	for s.engine.NumClients() > 0 && time.Now().Before(waitUntil) {
		time.Sleep(20 * time.Millisecond) // polling the client count; each client ends on its own
	}
}

// stoppedLine is the drain's last line, once everything is closed: the
// clients still there at the deadline (closed by shutdown), the
// recordings still open (0 unless a file could not be closed), the
// shared-object saves since the drain began.
func (s *server) stoppedLine(clientsCut int) {
	d := s.drained
	s.log.Info("stopped", "took", time.Since(d.start).Round(time.Millisecond), "clients", d.clients,
		"clients_cut", clientsCut, "recordings", d.recordings, "recordings_open", s.engine.MediaTotals().Recording,
		"shared_objects_saved", s.engine.SharedObjectsSaved()-d.soSaved)
}
