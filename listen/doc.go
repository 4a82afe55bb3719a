// Package listen is where openfcs accepts TCP connections, plain and TLS.
//
// Every TCP port the server opens is served by one Mux. Mux.Serve runs the
// accept loop of a port and sniffs the first byte of each connection, as
// FCS did to share one port between RTMP and RTMPT: a connection starting
// with an upper-case ASCII letter is HTTP and is yielded on Mux.HTTP(),
// which the fiber app serves (the RTMPT tunnel of package tunnel and the
// other HTTP routes); every other connection is yielded on Mux.RTMP().
// ServeRTMP accepts those and runs each as an RTMP session
// (rtmp.Server.ServeConn), with Proto naming it "rtmp" or "rtmps".
//
// Nothing here parses RTMP or HTTP beyond that first byte. UDP (HTTP/3) is
// served by quic-go directly; the wiring of all ports is in cmd/openfcs.
package listen
