package instance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/status"
)

// Application scripts (docs/ssas.md): the engine declares what it needs of a
// script (Script, created by a ScriptLoader when an instance loads) and of a
// transport (Peer, handed over in ClientInfo.Peer); package ssas implements
// the first, the transports the second. Neither knows the other.

// ErrScript means the application's script could not be loaded (syntax
// error, unreadable file, an exception while its top-level code or
// onAppStart ran): connects are rejected with
// NetConnection.Connect.Rejected, description "Application script error"
// (docs/ssas.md#error-reporting). The application is loaded again once one of its script
// files changes, or after Config.ScriptRetry.
var ErrScript = errors.New("instance: application script error")

// The rejection of a connect to an application whose script failed says
// what happened and nothing more: file names, lines and error text are for
// the server log, not for whoever connects.
const (
	ScriptErrorDescription = "Application script error"
	ScriptErrorApplication = "The application failed to load."
)

// ScriptLoadError is how a ScriptLoader reports a script that cannot
// start. The loader has logged why, with file and line; the manager only
// remembers the failure, so that a stream of connects to a broken
// application neither reloads it nor logs the error again each time.
type ScriptLoadError struct {
	// Err says what failed, "file:line:col: message" when a position is
	// known.
	Err error
	// Files are the files and folders whose change makes the next connect
	// load the script again (the scripts read, the folders searched).
	Files []string
}

func (e *ScriptLoadError) Error() string { return e.Err.Error() }

// Unwrap makes the error match ErrScript and its cause.
func (e *ScriptLoadError) Unwrap() []error { return []error{ErrScript, e.Err} }

// Result delivers the outcome of a call: ok with the result value, or !ok
// with an error info object (sent as _error).
type Result func(v amf.Value, ok bool)

// Peer is a transport's side of one client, used by the engine and the
// script. Every method may be called from any goroutine and never blocks on
// the network (it queues).
type Peer interface {
	// Accept admits a client whose decision was deferred (Client.Deferred):
	// the transport sends NetConnection.Connect.Success.
	Accept(c *Client)
	// Reject refuses a deferred client with info (an _error for the
	// connect transaction), then closes the connection.
	Reject(c *Client, info amf.Value)
	// Call invokes method on the client (server to client). result nil:
	// fire and forget. Otherwise result runs exactly once: with the
	// _result value, the _error info, or a NetConnection.Call.Failed info
	// when the connection ends first. It reports whether the call was
	// queued.
	Call(method string, args []amf.Value, result Result) bool
	// Close ends the connection after flushing what is queued; a defined
	// info is first sent as an onStatus (NetConnection.Connect.AppShutdown).
	Close(info amf.Value)
	// Ping sends a ping request; the round trip shows in Stats.
	Ping() bool
	// Stats returns the connection's counters.
	Stats() PeerStats
}

// PeerStats are a client's counters (Client.getStats in SSAS).
type PeerStats struct {
	BytesIn, BytesOut     uint64
	MsgIn, MsgOut         uint64
	MsgDropped            uint64
	PingRTT               time.Duration
	BandwidthUp, BandDown uint32 // bytes/s; 0 when unknown
}

// Script is an application's logic (main.asc) attached to an instance.
// Calls come from transport goroutines; implementations post them to their
// own loop and return without waiting, except Publish.
type Script interface {
	// Connect asks about a new client (args are the connect command's
	// extra arguments). The decision comes later through Instance.Accept
	// or Instance.Reject, from any goroutine.
	Connect(c *Client, args []amf.Value)
	// Disconnect tells the script an accepted client has gone.
	Disconnect(c *Client)
	// Call runs a client-to-server call; result is called exactly once.
	Call(c *Client, method string, args []amf.Value, result Result)
	// Publish is asked before c publishes; an error refuses it. It
	// waits for the script (bounded by its time budget).
	Publish(c *Client, req PublishRequest) error
	// Unpublish tells the script c stopped publishing stream.
	Unpublish(c *Client, stream string)
	// Stop runs the script's stop handler (application.onAppStop with
	// reason status.AppShutdown or status.AppGC, none when the
	// instance failed) and ends the script; it waits a bounded time.
	Stop(reason string)
}

// MethodChecker is an optional interface of a Script: HasMethod reports
// whether the script defines a method name callable by c (on the client
// object or Client.prototype, or a registered proxy). Transports ask it for
// the commands they answer natively only when the script does not
// (docs/rtmp.md#encoder-commands, docs/ssas.md#calls-from-clients). It may wait for the script's loop.
type MethodChecker interface {
	HasMethod(c *Client, name string) bool
}

// Starter is an optional interface of a Script whose loading runs code
// (an SSAS script's top-level code and application.onAppStart). The
// manager calls Start once, after the connect that loaded the instance has
// been handed to Connect, so that this client's onConnect follows the start
// directly, as in FMS; Stop must work without Start.
type Starter interface {
	Start()
}

// PublishObserver is an optional interface of a Script: Published tells it
// that c's publication of stream exists now (Instance.Publication returns
// it), after Publish allowed it, so that a recording asked for in
// application.onPublish can start (docs/ssas.md#stream, Stream.record). It must not
// block.
type PublishObserver interface {
	Published(c *Client, stream string)
}

// ScriptLoader creates the script of an instance when it loads. It returns
// nil, nil when the application has no script, and an error wrapping
// ErrScript (preferably a *ScriptLoadError) when the script cannot be
// compiled; it logs the reason itself. It is called with the manager's lock
// held: running script code belongs in Starter.Started.
type ScriptLoader interface {
	Load(in *Instance) (Script, error)
}

// Stop reasons given to Script.Stop (docs/ssas.md#application-status-codes).
const (
	StopShutdown = status.AppShutdown
	StopIdle     = status.AppGC
	StopFailed   = "failed"
)

// SetScriptLoader installs the loader consulted when an instance loads.
// Call it before the first Connect.
func (m *Manager) SetScriptLoader(l ScriptLoader) {
	m.mu.Lock()
	m.loader = l
	m.mu.Unlock()
}

// Client states.
const (
	statePending int32 = iota
	stateAccepted
	stateRejected
	stateGone
)

// access is a client's readAccess/writeAccess pair (docs/ssas.md#readaccess-and-writeaccess).
type access struct{ read, write string }

var defaultAccess = &access{read: "/", write: "/"}

// Deferred reports whether the connect decision is left to the script: the
// transport then waits for Peer.Accept or Peer.Reject instead of accepting
// when Connect returns.
func (c *Client) Deferred() bool { return c.deferred }

// Accepted reports whether the client has been accepted.
func (c *Client) Accepted() bool { return c.state.Load() == stateAccepted }

// Pending reports whether the client still waits for a decision.
func (c *Client) Pending() bool { return c.state.Load() == statePending }

// Instance returns the client's instance.
func (c *Client) Instance() *Instance { return c.inst }

// ReadAccess and WriteAccess return the client's access lists (default "/").
func (c *Client) ReadAccess() string { return c.accessPair().read }

// WriteAccess returns the client's write access list (default "/").
func (c *Client) WriteAccess() string { return c.accessPair().write }

func (c *Client) accessPair() *access {
	if a := c.access.Load(); a != nil {
		return a
	}
	return defaultAccess
}

// SetAccess replaces the access lists. Only later operations are affected.
func (c *Client) SetAccess(read, write string) {
	c.access.Store(&access{read: read, write: write})
	c.accessGen.Add(1)
}

// AccessGeneration changes whenever SetAccess is called, so a transport can
// cheaply notice that it must re-apply the lists (shared-object sessions).
func (c *Client) AccessGeneration() uint64 { return c.accessGen.Load() }

// CanRead reports whether the client may play stream (readAccess).
func (c *Client) CanRead(stream string) bool {
	return sharedobject.AccessAllows(c.ReadAccess(), accessPath(stream))
}

// CanWrite reports whether the client may publish or record stream.
func (c *Client) CanWrite(stream string) bool {
	return sharedobject.AccessAllows(c.WriteAccess(), accessPath(stream))
}

// accessPath strips the type prefix and query of a stream name (docs/ssas.md#readaccess-and-writeaccess).
func accessPath(name string) string {
	name, _, _ = strings.Cut(name, "?")
	for _, p := range streamPrefixes {
		if strings.HasPrefix(name, p) {
			return name[len(p):]
		}
	}
	return name
}

// clientState is the mutable part of Client, kept apart so that the
// exported struct stays a plain value to read.
type clientState struct {
	deferred  bool
	state     atomic.Int32
	access    atomic.Pointer[access]
	accessGen atomic.Uint64
	timer     *time.Timer // pending timeout; Instance.mu
}

// Accept admits a pending client. It returns false when the client is no
// longer pending (already decided or gone).
func (in *Instance) Accept(c *Client) bool {
	if !c.state.CompareAndSwap(statePending, stateAccepted) {
		return false
	}
	in.stopPendingTimer(c)
	in.everAccepted.Store(true)
	in.countAccepted()
	if c.Peer != nil {
		c.Peer.Accept(c)
	}
	in.log.Debug("client accepted", "client", c.ID)
	return true
}

// Reject refuses a pending client with NetConnection.Connect.Rejected;
// application, unless undefined, is added as the info's application field
// (rejectConnection's errObj). It returns false when the client is no
// longer pending.
func (in *Instance) Reject(c *Client, description string, application amf.Value) bool {
	if !c.state.CompareAndSwap(statePending, stateRejected) {
		return false
	}
	in.stopPendingTimer(c)
	in.ctr.rejected.Add(1)
	in.app.rejected.Add(1)
	var extra []amf.Prop
	if !application.IsUndefined() {
		extra = append(extra, amf.Prop{Key: "application", Value: application})
	}
	if description == "" {
		description = "Connection rejected."
	}
	if c.Peer != nil {
		c.Peer.Reject(c, status.Info(status.ConnectRejected, description, extra...))
	}
	in.log.Info("client rejected", "client", c.ID, "description", description)
	return true
}

// DisconnectClient closes an accepted client's connection
// (application.disconnect); the script's Disconnect follows when the
// transport reports the end. It reports whether the client was connected.
func (in *Instance) DisconnectClient(c *Client) bool {
	if c.state.Load() != stateAccepted || c.Peer == nil {
		return false
	}
	c.Peer.Close(amf.Undefined())
	return true
}

func (in *Instance) stopPendingTimer(c *Client) {
	in.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	in.mu.Unlock()
}

// HasScript reports whether the instance runs an application script.
func (in *Instance) HasScript() bool { return in.script != nil }

// Call runs a client-to-server call (NetConnection.call): the script's
// method, or NetConnection.Call.Failed when there is no script.
func (in *Instance) Call(c *Client, method string, args []amf.Value, result Result) {
	if in.script == nil || c.state.Load() != stateAccepted {
		result(status.Info(status.CallFailed, "Method not found ("+method+")."), false)
		return
	}
	in.script.Call(c, method, args, result)
}

// ScriptHandles reports whether the application script defines the method
// name for c, so that a transport passes the call to the script instead of
// answering it natively (docs/rtmp.md#encoder-commands: releaseStream, FCPublish, ...,
// getStreamLength, _checkbw). False without a script.
func (in *Instance) ScriptHandles(c *Client, name string) bool {
	mc, ok := in.script.(MethodChecker)
	return ok && c.state.Load() == stateAccepted && mc.HasMethod(c, name)
}

// Publishing tells the engine that c publishes pub (a transport calls it
// once Streams().Publish succeeded), so that the application script can
// record the stream and inject data messages into it (docs/ssas.md#stream:
// Stream.record, Stream.send). Unpublished forgets it. Without a script it
// does nothing.
func (in *Instance) Publishing(c *Client, pub *media.Publication) {
	if in.script == nil {
		return
	}
	in.mu.Lock()
	if in.pubs == nil {
		in.pubs = map[string]clientPub{}
	}
	in.pubs[pub.Name()] = clientPub{c: c, pub: pub}
	in.mu.Unlock()
	if po, ok := in.script.(PublishObserver); ok {
		po.Published(c, pub.Name())
	}
}

// Publication returns the publication of stream made by a client (see
// Publishing), or nil.
func (in *Instance) Publication(stream string) *media.Publication {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pubs[stream].pub
}

// clientPub is a client's publication known to the script.
type clientPub struct {
	c   *Client
	pub *media.Publication
}

// CheckPlay reports whether c may play stream: its readAccess must allow
// it. The error is a *status.Error with the code to send.
func (in *Instance) CheckPlay(c *Client, stream string) error {
	return in.CheckPlayQuery(c, stream, "")
}

// CheckPlayQuery is CheckPlay for a stream name that came with a query
// string ("cam?key=k1"): the application's access section
// (docs/operations.md#access-control) may want a key or a token from it.
func (in *Instance) CheckPlayQuery(c *Client, stream, query string) error {
	if !c.CanRead(stream) {
		return &status.Error{Code: status.PlayFailed, Description: "No read access to " + stream + "."}
	}
	if err := in.checkStream(c, HookPlay, stream, query, status.PlayFailed); err != nil {
		return accessStatus(err)
	}
	return nil
}

// accessStatus turns an access refusal into the status error transports
// send.
func accessStatus(err error) error {
	if ae, ok := errors.AsType[*AccessError](err); ok {
		return &status.Error{Code: ae.Code, Description: ae.Description, Err: err}
	}
	return err
}

// PublishRequest is a client's publish as the engine and the script see
// it: NetStream.publish("cam?key=abc", "record") is Stream "cam", Query
// "key=abc", Type "record". Stream keys of ffmpeg and OBS arrive as the
// query; the stream is known by its name alone.
type PublishRequest struct {
	Stream string // stream name, without the query string
	Query  string // what followed "?" in the name the client sent
	Type   string // "live" (also when the client sent none), "record" or "append"
}

// CheckPublish reports whether c may publish req.Stream: its writeAccess
// must allow it and the script's onPublish must not refuse it.
func (in *Instance) CheckPublish(c *Client, req PublishRequest) error {
	stream := req.Stream
	if !c.CanWrite(stream) {
		return &status.Error{Code: status.PublishBadName, Description: "No write access to " + stream + "."}
	}
	if req.Type == "" {
		req.Type = "live"
	}
	if err := in.checkStream(c, HookPublish, stream, req.Query, status.PublishBadName); err != nil {
		return accessStatus(err)
	}
	if in.script != nil {
		if err := in.script.Publish(c, req); err != nil {
			return &status.Error{Code: status.PublishBadName, Description: err.Error()}
		}
	}
	return nil
}

// Unpublished tells the script that c stopped publishing stream.
func (in *Instance) Unpublished(c *Client, stream string) {
	in.mu.Lock()
	if e, ok := in.pubs[stream]; ok && e.c == c {
		delete(in.pubs, stream)
	}
	in.mu.Unlock()
	in.notifyUnpublish(c, stream)
	if in.script != nil {
		in.script.Unpublish(c, stream)
	}
}

// Fail unloads the instance at once because its script failed (runaway
// loop, internal error): every client gets NetConnection.Connect.AppShutdown
// and is closed, and the next connect loads a fresh instance. It does not
// wait; safe from any goroutine, including the script's own.
func (in *Instance) Fail(err error) {
	go in.m.fail(in, err)
}

// Shutdown unloads the instance now (application.shutdown()), as Fail but
// with onAppStop. It does not wait.
func (in *Instance) Shutdown() {
	go in.m.shutdownInstance(in)
}

func (m *Manager) fail(in *Instance, err error) {
	in.log.Error("instance failed: unloading", "err", err)
	m.detach(in)
	in.closeClients()
	in.unload(StopFailed)
}

func (m *Manager) shutdownInstance(in *Instance) {
	m.detach(in)
	in.closeClients()
	in.unload(StopShutdown)
}

// detach removes in from the manager so that the next connect loads anew.
func (m *Manager) detach(in *Instance) {
	m.mu.Lock()
	m.removeLocked(in)
	m.mu.Unlock()
}

// closeClients sends AppShutdown to every client and closes it.
func (in *Instance) closeClients() {
	info := status.Info(status.ConnectAppShutdown, "The application instance was unloaded.")
	for _, c := range in.Clients() {
		if c.Peer != nil {
			c.Peer.Close(info)
		}
	}
}

// connectScript hands a new client to the script, with the pending
// timeout armed.
func (in *Instance) connectScript(c *Client, args []amf.Value) {
	if t := in.m.cfg.PendingTimeout; t > 0 {
		in.mu.Lock()
		c.timer = time.AfterFunc(t, func() {
			in.Reject(c, "Connection timed out", amf.Undefined())
		})
		in.mu.Unlock()
	}
	in.script.Connect(c, args)
}

// FailStart is how a script reports that its start failed: an exception
// in its top-level code or onAppStart (docs/ssas.md#error-reporting), which it has
// logged. The instance fails like a script that does not compile: it is
// detached at once, so that connects from now on get ErrScript (until a
// script file changes or Config.ScriptRetry has passed), and unloaded
// without onAppStop; the script rejects the clients it already has. err
// should be a *ScriptLoadError. Safe from any goroutine, including the
// script's own: the unload runs on a goroutine of its own.
func (in *Instance) FailStart(err error) {
	if !errors.Is(err, ErrScript) {
		err = fmt.Errorf("%w: %w", ErrScript, err)
	}
	m := in.m
	m.mu.Lock()
	mine := m.removeLocked(in)
	if mine {
		m.rememberFailure(in.App, err)
	}
	m.mu.Unlock()
	if mine {
		go in.unload(StopFailed)
	}
}

// failedLoad is an application whose script failed to load: the error,
// when, and the state of the files that could fix it.
type failedLoad struct {
	err   error
	at    time.Time
	files []string
	stamp []fileStamp
}

// fileStamp is what tells that a file changed: size and modification
// time (a folder's changes when an entry is added, removed or renamed).
type fileStamp struct {
	size int64
	mod  int64 // ns since the epoch
	ok   bool
}

func stampFiles(files []string) []fileStamp {
	st := make([]fileStamp, len(files))
	for i, f := range files {
		if fi, err := os.Stat(f); err == nil {
			st[i] = fileStamp{size: fi.Size(), mod: fi.ModTime().UnixNano(), ok: true}
		}
	}
	return st
}

// rememberFailure records a failed load of app. A loader that did not
// log the failure (it is no *ScriptLoadError) gets it logged here. Called
// with m.mu held.
func (m *Manager) rememberFailure(app string, err error) {
	f := &failedLoad{err: err, at: time.Now()}
	if le, ok := errors.AsType[*ScriptLoadError](err); ok {
		f.files = le.Files
		f.stamp = stampFiles(le.Files)
	} else {
		m.log.Error("application script not loaded", "app", app, "err", err)
	}
	if m.failed == nil {
		m.failed = map[string]*failedLoad{}
	}
	m.failed[app] = f
}

// recentFailure returns the remembered failure of app while it holds:
// younger than ScriptRetry and none of its files changed. The map holds
// at most one entry per application folder. Called with m.mu held.
func (m *Manager) recentFailure(app string) error {
	f := m.failed[app]
	if f == nil {
		return nil
	}
	if time.Since(f.at) < m.cfg.ScriptRetry && slices.Equal(stampFiles(f.files), f.stamp) {
		return f.err
	}
	delete(m.failed, app)
	return nil
}

// loadScript asks the loader for the instance's script.
func (in *Instance) loadScript(l ScriptLoader) error {
	if l == nil {
		return nil
	}
	s, err := l.Load(in)
	if err != nil {
		if !errors.Is(err, ErrScript) {
			err = fmt.Errorf("%w: %w", ErrScript, err)
		}
		return err
	}
	in.script = s
	return nil
}

// Dir returns the application's folder (applications/<app>).
func (in *Instance) Dir() string { return filepath.Join(in.m.cfg.AppsDir, in.App) }
