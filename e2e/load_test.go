//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestManyPlayersAndPausedReader: 100 concurrent rtmpdump players of one
// stream all receive data, and the publisher keeps its real-time pace while
// one more player is paused at the TCP level (it plays, then never reads).
//
// Not parallel: it measures the publisher's rate, so it runs alone.
func TestManyPlayersAndPausedReader(t *testing.T) {
	requireEncoders(t, "libx264", "aac")
	const nPlayers = 100
	const window = 8 * time.Second

	srv := startServer(t, serverOpts{})
	url := srv.RTMPURL("live", "crowd")
	pub := startPublisher(t, url, codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the publisher to start", func() bool { return pub.frames() >= fps })

	players := make([]*player, nPlayers)
	for i := range players {
		players[i] = startRtmpdumpPlayer(t, url)
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("all %d players to receive data", nPlayers), func() bool {
		for _, p := range players {
			if p.size() < 4096 {
				return false
			}
		}
		return true
	})
	for i, p := range players {
		if p.exited() {
			t.Fatalf("player %d exited early: %v\n%s", i, p.err, p.stderr.String())
		}
	}

	// measure returns the publisher's frame rate over one window and checks
	// that every player's output grew during it.
	measure := func(label string) float64 {
		sizes := make([]int64, nPlayers)
		for i, p := range players {
			sizes[i] = p.size()
		}
		from := time.Now()
		waitFor(t, 2*window, label+" window", func() bool { return time.Since(from) >= window })
		to := time.Now()
		stalled := 0
		for i, p := range players {
			if p.size() <= sizes[i] {
				stalled++
			}
		}
		if stalled > 0 {
			t.Errorf("%s: %d of %d players received nothing during the window", label, stalled, nPlayers)
		}
		r := pub.rate(from, to)
		t.Logf("%s: publisher at %.2f frames/s over %v", label, r, to.Sub(from).Round(time.Millisecond))
		return r
	}

	// The baseline must be real time; on a machine busy with other work
	// ffmpeg itself may lag, so measure it up to three times.
	var before float64
	for i := range 3 {
		before = measure(fmt.Sprintf("100 players (baseline %d)", i+1))
		if before >= 0.9*fps {
			break
		}
	}

	paused := dialRaw(t, srv.rtmpAddr, 4096)
	if err := paused.connectAndPlay(srv, "live", "crowd"); err != nil {
		t.Fatalf("paused player: %v", err)
	}
	// From here on it never reads. Wait until its receive buffer is full, so
	// the server's writes to it are blocked for the whole window.
	waitFor(t, 20*time.Second, "the paused player's receive buffer to fill", func() bool { return paused.inQueue() >= 1024 })
	t.Logf("paused player: %d bytes queued unread", paused.inQueue())

	during := measure("100 players + 1 paused")

	pub.stop(t)
	for _, p := range players {
		p.end(t, 15*time.Second)
	}

	if before < 0.9*fps {
		t.Errorf("publisher ran at %.2f frames/s with 100 players, want ≥ 90%% of %d (real time)", before, fps)
	}
	if during < 0.9*before || during < 0.9*fps {
		t.Errorf("publisher slowed from %.2f to %.2f frames/s while a player was paused; want within 10%%", before, during)
	}
	if l := srv.closedLine(paused.local()); l != nil {
		t.Logf("paused player was closed: reason=%v", l["reason"])
	}
}
