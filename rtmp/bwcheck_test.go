package rtmp

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
)

// bwRun is what a client saw of one native bandwidth check.
type bwRun struct {
	payloads []int       // payload length of each check round, latency round first
	done     []amf.Value // the done call's arguments
	elapsed  time.Duration
}

// runBWCheck asks for a bandwidth check with method and plays the client:
// it answers every check round (as Flash Player's onBWCheck and librtmp's
// _onbwcheck handlers do) until the done call arrives.
func runBWCheck(t *testing.T, c *Client, method, check, done string) bwRun {
	t.Helper()
	ctx := testutil.Context(t, 20*time.Second)
	start := time.Now()
	if v, ok, err := c.CallInfo(ctx, method); err != nil || !ok || !v.IsNull() {
		t.Fatalf("%s answered %v %v %v, want _result null", method, v, ok, err)
	}
	var run bwRun
	for {
		select {
		case cmd := <-c.Calls:
			switch cmd.Name {
			case check:
				if cmd.Txn == 0 || !cmd.Object.IsNull() {
					t.Fatalf("%s with txn %v and command object %v: want a transaction (the server times the answer) and null", check, cmd.Txn, cmd.Object)
				}
				run.payloads = append(run.payloads, len(cmd.Arg(0).Str()))
				if err := c.Reply(cmd.Txn, amf.Number(float64(len(run.payloads))), true); err != nil {
					t.Fatal(err)
				}
			case done:
				// A call that wants no answer: txn 0, null command object.
				if cmd.Txn != 0 || !cmd.Object.IsNull() {
					t.Errorf("%s with txn %v and command object %v, want 0 and null", done, cmd.Txn, cmd.Object)
				}
				run.done, run.elapsed = cmd.Args, time.Since(start)
				return run
			default:
				t.Fatalf("unexpected call %s", cmd.Name)
			}
		case <-ctx.Done():
			t.Fatalf("no %s after %d rounds", done, len(run.payloads))
		}
	}
}

// checkFigures wants onBWDone(kbitDown, deltaDown, deltaTime, latency)
// consistent with what the client received and the time it took.
func checkFigures(t *testing.T, run bwRun, maxBytes int) {
	t.Helper()
	if len(run.done) != 4 {
		t.Fatalf("done call has %d arguments, want 4: %v", len(run.done), run.done)
	}
	for i, v := range run.done {
		if v.Kind() != amf.KindNumber {
			t.Fatalf("argument %d is %v, want a number", i, v)
		}
	}
	kbitDown, deltaDown, deltaTime, latency := run.done[0].Num(), run.done[1].Num(), run.done[2].Num(), run.done[3].Num()
	t.Logf("rounds %v: kbitDown %v, deltaDown %v kbit, deltaTime %v s, latency %v ms (client saw %v)",
		run.payloads, kbitDown, deltaDown, deltaTime, latency, run.elapsed)
	if run.payloads[0] != 0 {
		t.Errorf("the latency round carried %d bytes, want none", run.payloads[0])
	}
	sent := 0
	for i, n := range run.payloads[1:] {
		sent += n
		if i > 0 && n < run.payloads[i] && sent != maxBytes {
			t.Errorf("round %d shrank to %d bytes before the end", i+1, n)
		}
	}
	if sent != maxBytes {
		t.Errorf("payload rounds sent %d bytes, want bwcheck_bytes %d", sent, maxBytes)
	}
	if want := float64(sent) * 8 / 1000; deltaDown != want {
		t.Errorf("deltaDown %v kbit, want the payloads' %v", deltaDown, want)
	}
	if deltaTime <= 0 || deltaTime > run.elapsed.Seconds() {
		t.Errorf("deltaTime %v s, want in (0, %v]", deltaTime, run.elapsed.Seconds())
	}
	if elapsedMS := float64(run.elapsed.Microseconds()) / 1000; latency < 0 || latency > elapsedMS {
		t.Errorf("latency %v ms, want in [0, %v]", latency, elapsedMS)
	}
	if want := math.Round(deltaDown / deltaTime); kbitDown != want || kbitDown <= 0 {
		t.Errorf("kbitDown %v, want deltaDown/deltaTime = %v", kbitDown, want)
	}
}

// Flash Player's nc.call("checkBandwidth") without a script method: the
// server measures with onBWCheck rounds and reports with onBWDone (FMS
// 3.5 native detection, docs/rtmp.md#bandwidth-check).
func TestBandwidthCheckNative(t *testing.T) {
	const maxBytes = 100_000 // 16 KiB, 32 KiB, then the rest
	ts := startServer(t, Config{BWCheckBytes: maxBytes, BWCheckTime: time.Minute})
	c := dial(t, ts, "live", ClientConfig{})
	run := runBWCheck(t, c, "checkBandwidth", "onBWCheck", "onBWDone")
	checkFigures(t, run, maxBytes)
	if len(run.payloads) != 4 {
		t.Errorf("rounds %v, want a latency round and three payload rounds", run.payloads)
	}
	// A second check on the same connection runs again.
	checkFigures(t, runBWCheck(t, c, "checkBandwidth", "onBWCheck", "onBWDone"), maxBytes)
}

// librtmp's _checkbw gets the names librtmp answers: _onbwcheck rounds and
// _onbwdone.
func TestBandwidthCheckLibrtmpNames(t *testing.T) {
	const maxBytes = 40_000
	ts := startServer(t, Config{BWCheckBytes: maxBytes, BWCheckTime: time.Minute})
	c := dial(t, ts, "live", ClientConfig{})
	checkFigures(t, runBWCheck(t, c, "_checkbw", "_onbwcheck", "_onbwdone"), maxBytes)
}

// A client that never answers the rounds (ffmpeg ignores _onbwcheck) gets
// no report; the check ends on its own.
func TestBandwidthCheckSilentClient(t *testing.T) {
	ts := startServer(t, Config{BWCheckTime: 50 * time.Millisecond})
	c := dial(t, ts, "live", ClientConfig{})
	if _, err := c.Call(testutil.Context(t, 5*time.Second), "_checkbw"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the check to give up", func() bool { return strings.Contains(ts.logs.String(), "bandwidth check: no answer") })
	for len(c.Calls) > 0 {
		if cmd := <-c.Calls; cmd.Name != "_onbwcheck" {
			t.Errorf("unexpected call %s", cmd.Name)
		}
	}
}

// bandwidth_detection: off in application.yaml: a bare _result, no rounds.
func TestBandwidthCheckOff(t *testing.T) {
	ts := startServer(t, Config{})
	if err := os.WriteFile(filepath.Join(ts.apps, "live", "application.yaml"), []byte("bandwidth_detection: off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts, "live", ClientConfig{})
	ctx := testutil.Context(t, 5*time.Second)
	if v, ok, err := c.CallInfo(ctx, "checkBandwidth"); err != nil || !ok || !v.IsNull() {
		t.Fatalf("checkBandwidth = %v %v %v", v, ok, err)
	}
	// A round trip after it: had a round been sent, it would be queued
	// before this answer.
	if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
		t.Fatal(err)
	}
	if len(c.Calls) != 0 {
		t.Errorf("%d calls from the server, want none (first %s)", len(c.Calls), (<-c.Calls).Name)
	}
	if strings.Contains(ts.logs.String(), "msg=\"bandwidth check\"") {
		t.Error("a bandwidth check ran")
	}
}
