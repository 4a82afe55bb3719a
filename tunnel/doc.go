// Package tunnel carries RTMP over HTTP: RTMPT and RTMPTS (docs/rtmpt.md), on
// HTTP/1.1 (gofiber/fiber) and HTTP/3 (quic-go), server and client side.
//
// A tunnel session is a virtual net.Conn. On the server, Server turns the
// POST /open, /send, /idle and /close requests of one session into that
// conn's byte stream and hands the conn to the unchanged RTMP session layer
// (rtmp.Server.GoConn, or ServeConn of a ConnServer that cannot start a
// session and return), so everything RTMP does works over the tunnel
// with no transport code past this adapter: reads return the bytes of
// /send bodies in sequence order (docs/rtmpt.md#sessions-and-sequence-numbers), writes queue bytes for the next
// response, and every response carries the polling-interval byte (docs/rtmpt.md#response-bodies-and-the-polling-byte) and
// all pending output up to Config.MaxResponseSize. Sessions that are not
// polled for Config.SessionTimeout expire; the RTMP session then sees a
// read error and runs its normal disconnect path. The conn is also an
// rtmp.ReadNotifier: an idle session's RTMP reader ends and the session
// calls it back when there is something to read
// (docs/architecture.md#idle-connections).
//
// The TCP accept loops, and the first-byte sniffing that lets RTMP and
// RTMPT share a port, are in package listen; this package only sees the
// HTTP requests the fiber app (or HTTP/3) hands it.
//
// ClientConn is the client side: a net.Conn that polls a tunnel server, so
// the project's RTMP client (rtmp.Dial with Dialer) runs over rtmpt://,
// rtmpts:// and HTTP/3.
//
// Left out: RTMPTE (RTMPE inside the tunnel, docs/rtmpt.md#rtmpts-and-rtmpte), the /fcs/ident XML
// document (both probes answer 404, which Flash Player accepts), and
// binding a session to the client's address (docs/rtmpt.md#server-design).
package tunnel
