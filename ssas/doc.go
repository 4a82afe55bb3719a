// Package ssas runs Server-Side ActionScript (docs/ssas.md): the main.asc
// of Flash Communication Server and Flash Media Server applications, on
// dop251/goja, one runtime per application instance.
//
// A Host is the instance.ScriptLoader the engine consults when an instance
// loads: it finds the entry script (§2.2), compiles it after the
// compatibility rewrites of §9 (compat.go) and starts a Runtime. Each
// Runtime owns one goroutine, its loop: goja runtimes are not safe for
// concurrent use, so everything that touches script state (connects,
// calls, results, timers, shared-object events, stream events, outgoing
// NetConnection events) is posted to that loop and runs one at a time
// under a wall-clock budget (Config.MaxScriptTime). Network work never
// runs on the loop: sends are queued by the transport's instance.Peer, and
// NetConnection/LoadVars work runs on goroutines that post their outcome.
//
// The objects of §3-§8 are bound here: application, Client, Stream (live
// server-side playlists and republishing), SharedObject (bound to package
// sharedobject), NetConnection (through an injected Dialer, since the
// engine may not import a transport), File, LoadVars, XML (a small
// AS-style DOM), trace, load, setInterval/setTimeout.
//
// Left out: recorded streams (Stream.record, play of recorded files,
// Stream.length of files, clearStreams), Flash Remoting over http://
// NetConnections, XMLSocket, WebService, ByteArray.
package ssas
