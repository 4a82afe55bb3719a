//go:build linux

package tunnel

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/testutil/rtmptest"
	"github.com/openfcs/openfcs/rtmp"
)

// An idle RTMPT session parks (no reader goroutine): a call wakes it and
// is answered, it parks again, and a shared-object change made by a
// client over plain RTMP reaches it while it is parked.
func TestParkedSessionReadsAndReceives(t *testing.T) {
	st := startStack(t, Config{}, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	rtmptest.ParkReadsAndReceives(t, st.rtmp, st.logs, dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{}), func() *rtmp.Client {
		return dialRTMP(t, "rtmp://"+st.addr+"/live", DialConfig{})
	})
}

// freezer is an HTTP transport whose requests stop reaching the server
// once frozen (they wait until released or canceled): a client that
// vanished without a word.
type freezer struct {
	base    http.RoundTripper
	frozen  atomic.Bool
	release chan struct{}
}

func (f *freezer) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.frozen.Load() {
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-f.release:
			return nil, context.Canceled
		}
	}
	return f.base.RoundTrip(req)
}

// A parked RTMPT session whose client keeps polling answers the server's
// pings and stays; one whose client stopped polling (the tunnel session
// kept alive by a long session timeout) is ended by the idle timeout
// while parked.
func TestParkedSessionPingAndIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	st := startStack(t, Config{SessionTimeout: time.Hour},
		stackOpts{session: rtmp.Config{IdleTimeout: idle, ParkAfter: 50 * time.Millisecond}})
	quiet := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
	f := &freezer{base: http.DefaultTransport.(*http.Transport).Clone(), release: make(chan struct{})}
	gone := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{Client: &http.Client{Transport: f}})
	t.Cleanup(func() { close(f.release) }) // before the clients close (cleanups run last first)
	rtmptest.ParkPingAndIdleTimeout(t, st.rtmp, st.logs, idle, quiet, gone, func() { f.frozen.Store(true) })
}

// Bad input to a parked session wakes it and closes it alone.
func TestParkedSessionBadInput(t *testing.T) {
	st := startStack(t, Config{}, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)

	good := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
	nc, err := DialFunc(DialConfig{})(ctx, mustURL(t, "rtmpt://"+st.addr+"/live"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := newRTMPClient(t, nc, "rtmpt://"+st.addr+"/live")
	if err != nil {
		t.Fatal(err)
	}
	rtmptest.WaitParked(t, st.rtmp, 2)
	// A type-3 chunk header on a chunk stream that has had no message:
	// nothing to continue.
	if _, err := nc.Write([]byte{0xc5, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	rtmptest.WaitClosedAlone(t, st.logs, bad, good)
}

// Sessions park and wake all the time (ParkAfter 1ms) while clients
// call, close their sessions (/close) and vanish, and the tunnel and RTMP
// servers shut down with some parked: under the race detector no session
// is lost or woken twice, each ends with one closed line, and goleak
// (TestMain) finds no goroutine left.
func TestParkedSessionChurnAndShutdown(t *testing.T) {
	st := startStack(t, Config{}, stackOpts{session: rtmp.Config{ParkAfter: time.Millisecond}})
	rtmptest.ParkChurnAndShutdown(t, st.rtmp, st.logs, func() *rtmp.Client {
		return dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
	})
}

// A parked session's client that ends the tunnel session (/close) wakes
// the RTMP reader, which ends the RTMP session; expiry does the same.
func TestParkedSessionEndedByClientOrExpiry(t *testing.T) {
	st := startStack(t, Config{SessionTimeout: 2 * time.Second}, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	closer := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
	f := &freezer{base: http.DefaultTransport.(*http.Transport).Clone(), release: make(chan struct{})}
	vanishing := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{Client: &http.Client{Transport: f}})
	t.Cleanup(func() { close(f.release) })
	_ = vanishing
	rtmptest.WaitParked(t, st.rtmp, 2)
	_ = closer.Close()
	f.frozen.Store(true)
	testutil.WaitFor(t, 30*time.Second, "both sessions closed", func() bool { return st.rtmp.NumConns() == 0 })
	logs := st.logs.String()
	if got := strings.Count(logs, "msg=closed"); got != 2 {
		t.Errorf("%d closed lines, want 2:\n%s", got, logs)
	}
	if !strings.Contains(logs, "reason=timeout") {
		t.Errorf("the vanished client's session was not closed as a timeout:\n%s", logs)
	}
}
