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

// ConnStarter is a ConnServer that can start a session and return at once,
// calling done when it ends; *rtmp.Server implements it, and an idle
// session it starts so may hold no goroutine.
type ConnStarter interface {
	GoConn(ctx context.Context, nc net.Conn, proto string, done func())
}

// ServeRTMP accepts connections from ln (a Mux's RTMP listener) and runs
// each with srv.GoConn when srv is a ConnStarter, else with
// srv.ServeConn(ctx, nc, Proto(nc)) on its own goroutine. It returns when
// ln is closed, after every session it started has ended.
func ServeRTMP(ctx context.Context, ln net.Listener, srv ConnServer) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	st, _ := srv.(ConnStarter)
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		if st != nil {
			wg.Add(1)
			st.GoConn(ctx, nc, Proto(nc), wg.Done)
			continue
		}
		wg.Go(func() { srv.ServeConn(ctx, nc, Proto(nc)) })
	}
}
