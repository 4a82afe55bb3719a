// Package ssas runs Server-Side ActionScript (docs/ssas.md): the main.asc
// of Flash Communication Server and Flash Media Server applications, on
// dop251/goja, one runtime per application instance.
//
// A Host is the instance.ScriptLoader the engine consults when an instance
// loads: it finds the entry script (docs/ssas.md#which-script-runs), compiles it after the
// compatibility rewrites of docs/ssas.md#compatibility-with-old-scripts (compat.go) and starts a Runtime. Each
// Runtime owns one goroutine, its loop: goja runtimes are not safe for
// concurrent use, so everything that touches script state (connects,
// calls, results, timers, shared-object events, stream events, outgoing
// NetConnection events) is posted to that loop and runs one at a time
// under a wall-clock budget (Config.MaxScriptTime). Network work never
// runs on the loop: sends are queued by the transport's instance.Peer, and
// NetConnection/LoadVars work runs on goroutines that post their outcome.
//
// The objects of docs/ssas.md#application are bound here: application, Client, Stream
// (server-side playlists of live streams and recorded files, republishing,
// recording with the RTMP publish path's recorder, send into any stream,
// length, clear; application.clearStreams), SharedObject (bound to package
// sharedobject), NetConnection (through an injected Dialer, since the
// engine may not import a transport; to an http:// URL it is a Flash
// Remoting client, remoting.go, with the bundled netservices.asc), File,
// LoadVars, XML (a small AS-style DOM), trace, load,
// setInterval/setTimeout.
//
// The script also answers, when it defines them, the commands a transport
// otherwise answers natively (releaseStream, FCPublish, getStreamLength,
// ...; Runtime.HasMethod).
//
// Left out: pulling a stream through a server-side NetConnection
// (Stream.play's remoteConnection), XMLSocket, WebService, ByteArray.
package ssas
