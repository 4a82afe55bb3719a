// Package rtmp is the RTMP session layer: the server that turns a byte
// stream into NetConnection and NetStream commands on the engine
// (package instance), and the client the project uses for tests, the load
// tool and server-side NetConnection.
//
// A session runs over any net.Conn: TCP, TLS, an RTMPT tunnel session or a
// WebSocket all reach Server.ServeConn unchanged. Per connection one
// goroutine reads and dispatches messages, and one goroutine owns the socket
// for writing: it drains the control queue and every played stream's
// subscriber queue, encodes chunk headers into a reused batch and flushes
// everything pending in one vectored write (docs/architecture.md#connection-lifecycle, docs/architecture.md#backpressure).
//
// Specs: docs/rtmp.md#handshake (handshake, chunks, control, commands, status).
package rtmp
