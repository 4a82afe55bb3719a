package listen

import (
	"context"
	"net"
	"sync"
)

// ConnServer runs one RTMP session over a connection and returns when it
// ends; *rtmp.Server implements it. proto is "rtmp" or "rtmps".
type ConnServer interface {
	ServeConn(ctx context.Context, nc net.Conn, proto string)
}

// ServeRTMP accepts connections from ln (a Mux's RTMP listener) and runs
// each with srv.ServeConn(ctx, nc, Proto(nc)) on its own goroutine. It
// returns when ln is closed, after every session it started has returned.
func ServeRTMP(ctx context.Context, ln net.Listener, srv ConnServer) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		wg.Go(func() { srv.ServeConn(ctx, nc, Proto(nc)) })
	}
}
