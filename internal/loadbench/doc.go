// Package loadbench drives load against an RTMP server and measures what
// the server spends on it. It holds the pieces of the openfcs-load tool
// (a synthetic live stream and its publisher; fleets of players, idle
// connections and raw TCP sinks with per-connection byte counters; the JSON
// lines the tool prints) and, in its tests, the system-level benchmarks:
// loopback fan-out to real TCP players in another process next to
// a bare net.Buffers floor measured the same way, and memory per idle
// handshaken connection.
//
// Everything here uses the project's own RTMP client (package rtmp), so the
// load it generates is what a Flash-era player sends: handshake, connect,
// createStream, play, then acknowledgements only.
package loadbench
