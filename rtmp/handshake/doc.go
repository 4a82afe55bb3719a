// Package handshake implements the RTMP handshake of docs/rtmp.md#handshake: the three
// fixed-size blocks C0/C1/C2 from the client and S0/S1/S2 from the server, in
// both the simple (legacy, FCS 1.x / FMS 2 / Flash Player 6-8) form and the
// HMAC-SHA256 digest form ("FP9", "complex") used by Flash Player 9.0.115+,
// ffmpeg and librtmp with SWF verification.
//
// Server answers a signed C1 with a signed S1 and S2 in the scheme the client
// used (docs/rtmp.md#which-handshake-the-server-answers) and an unsigned one with the simple echo; Client produces
// either form and, when it signed its C1, verifies the server's signatures
// as ffmpeg does.
//
// Both functions are pure protocol code over an io.ReadWriter: they open no
// sockets, start no goroutines, log nothing and set no deadlines (the caller
// does, on its net.Conn). They read exactly the handshake bytes and never
// past them, so a client's connect command sent right behind C2 stays
// unread in rw.
//
// Not supported: RTMPE (C0 = 6, 8 or 9; Diffie-Hellman + RC4, docs/rtmp.md#rtmpe-and-swf-verification) is
// refused with an error wrapping [ErrRTMPE] and [ErrBadVersion]; SWF
// verification (docs/rtmp.md#rtmpe-and-swf-verification) is left to the session layer, which may ignore it.
package handshake
