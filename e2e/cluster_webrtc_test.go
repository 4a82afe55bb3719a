//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Chromium publishes its camera and microphone over WHIP to node 1 of a
// two-node cluster; ffmpeg, which predates Enhanced RTMP, plays the
// stream over RTMP from node 2, through the cluster's relay. What it
// recorded decodes to H.264 and AAC (not the Opus the browser sent), not
// silent: the origin made the AAC (its converter started, the edge's did
// not) because the edge told it that it has a legacy player.
func TestClusterRelaysWebRTCToLegacyPlayers(t *testing.T) {
	requireEncoders(t, "aac")
	nodes := startCluster(t, 2)
	origin, edge := nodes[0], nodes[1]
	b := startBrowser(t)
	publishWHIPPage(t, b, origin.server)
	out := filepath.Join(t.TempDir(), "edge.flv")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// 8 s of stream: the relay, the edge's report of a legacy player
	// (once a second) and the origin's converter start take some of it.
	if o, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-i", edge.RTMPURL("live", "cam"), "-t", "8", "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg playing from the edge: %v\n%s", err, o)
	}
	n, w, h := decodeVideo(t, out)
	mi := probe(t, out)
	a := mi.stream("audio")
	peak := audioPeak(t, out)
	t.Logf("edge player: %d H.264 frames %dx%d, audio %+v with %d frames, peak %.1f dB", n, w, h, a, mi.frames("audio"), peak)
	if n < 25 {
		t.Errorf("the edge's player decoded %d video frames, want 25 or more", n)
	}
	// 100 AAC frames of 1024 samples at 48 kHz are 2 s.
	if a == nil || a.CodecName != "aac" || mi.frames("audio") < 100 {
		t.Errorf("the edge's player: audio %+v with %d decoded frames, want AAC, 100 or more", a, mi.frames("audio"))
	}
	if errs := decodeProblems(mi.decodeErrors); errs != "" {
		t.Errorf("decoding: %s", errs)
	}
	if peak < -40 {
		t.Errorf("audio peak %.1f dB: silent", peak)
	}
	conv := func(s *clusterNode) int {
		return len(s.findLogs(func(m map[string]any) bool {
			return m["msg"] == "webrtc converter started" && m["from"] == "opus" && m["to"] == "aac"
		}))
	}
	if o, e := conv(origin), conv(edge); o < 1 || e != 0 {
		t.Errorf("Opus to AAC converters started: %d on the origin, %d on the edge; want the origin's only", o, e)
	}
	if relays := getClusterStats(t, edge).Cluster.RelaysStarted; relays != 1 {
		t.Errorf("the edge started %d relays, want 1", relays)
	}
	b.noProblems(t, "pub")
}
