package rtmp

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp/message"
)

// Native bandwidth detection (docs/interop.md#bandwidth-check), for a client's
// checkBandwidth or _checkbw that the application script does not handle.
//
// The server calls the client's check method in rounds, one at a time:
// the first without payload gives the latency, the next ones carry a
// payload that doubles each round until BWCheckBytes have gone or
// BWCheckTime has passed. Then it calls the done method with kbitDown,
// deltaDown (kbit sent), deltaTime (seconds, the round trips taken out)
// and latency (ms). The names depend on how the client asked: Flash
// Player's nc.call("checkBandwidth") gets onBWCheck / onBWDone (FMS 3.5);
// librtmp's _checkbw gets _onbwcheck / _onbwdone: librtmp answers each
// _onbwcheck with a _result carrying a counter and takes _onbwdone as the
// end.

// bwFirstRound is the payload of the first measuring round; bwMaxRound
// bounds one round, well inside a client's default AMF string limit.
const (
	bwFirstRound = 16 << 10
	bwMaxRound   = 256 << 10
)

// bwPayload is the filler the rounds carry, built once.
var bwPayload = sync.OnceValue(func() string {
	var b strings.Builder
	b.Grow(bwMaxRound)
	x := uint32(2463534242)
	for b.Len() < bwMaxRound {
		// xorshift: varied printable bytes, in case a link compresses.
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(byte('!' + x%94))
	}
	return b.String()
})

// bwCheck is one bandwidth check of a connection. Its results arrive on
// the reader goroutine, its deadline on a timer: mu guards the state.
type bwCheck struct {
	c           *conn
	p           *peer
	check, done string // the client methods called
	maxBytes    int
	maxTime     time.Duration

	mu        sync.Mutex
	finished  bool
	start     time.Time // the latency round was sent
	latency   time.Duration
	dataStart time.Time // the first payload round was sent
	rounds    int       // payload rounds answered
	sent      int       // payload bytes sent
	next      int       // payload of the next round
	timer     *time.Timer
}

// startBWCheck answers checkBandwidth / _checkbw natively, or with a bare
// _result when the application turned detection off. Reader goroutine.
func (c *conn) startBWCheck(cmd *message.Command) {
	c.replyResult(cmd, amf.Null())
	if cfg, err := c.inst.AppConfig(); err != nil {
		c.log.Warn("bandwidth check: application.yaml", "err", err)
		return
	} else if cfg.BandwidthDetection == instance.BandwidthOff {
		return
	}
	p := c.peer()
	if p == nil {
		return
	}
	if c.bw != nil && !c.bw.isFinished() {
		c.log.Debug("bandwidth check already running")
		return
	}
	b := &bwCheck{c: c, p: p, check: "onBWCheck", done: "onBWDone",
		maxBytes: c.cfg.BWCheckBytes, maxTime: c.cfg.BWCheckTime, next: bwFirstRound}
	if cmd.Name == "_checkbw" {
		b.check, b.done = "_onbwcheck", "_onbwdone"
	}
	c.bw = b
	b.mu.Lock()
	b.start = time.Now()
	b.timer = time.AfterFunc(2*b.maxTime, b.timeout)
	b.mu.Unlock()
	if !p.Call(b.check, nil, b.answered) {
		b.mu.Lock()
		b.finish()
		b.mu.Unlock()
	}
}

func (b *bwCheck) isFinished() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.finished
}

// answered handles the client's answer to a round. A failed call (the
// client answered _error, or the connection ended) ends the check
// without a report.
func (b *bwCheck) answered(_ amf.Value, ok bool) {
	n, more := b.nextRound(ok)
	// The call goes out unlocked: its answer may come back at once.
	if more && !b.p.Call(b.check, []amf.Value{amf.String(bwPayload()[:n])}, b.answered) {
		b.mu.Lock()
		b.finish()
		b.mu.Unlock()
	}
}

// nextRound records an answer and returns the payload of the next round,
// or more = false when the check is over.
func (b *bwCheck) nextRound(ok bool) (n int, more bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return 0, false
	}
	if !ok {
		b.finish()
		return 0, false
	}
	now := time.Now()
	if b.dataStart.IsZero() {
		b.latency = now.Sub(b.start)
		b.dataStart = now
	} else {
		b.rounds++
		if b.sent >= b.maxBytes || now.Sub(b.dataStart) >= b.maxTime {
			b.report(now)
			return 0, false
		}
	}
	b.timer.Reset(2 * b.maxTime)
	n = min(b.next, bwMaxRound, b.maxBytes-b.sent)
	b.next *= 2
	b.sent += n
	return n, true
}

// timeout ends a check whose client stopped answering: what was measured
// until then is reported, a client that never answered gets nothing.
func (b *bwCheck) timeout() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	if b.rounds == 0 {
		b.c.log.Debug("bandwidth check: no answer", "method", b.check)
		b.finish()
		return
	}
	b.report(time.Now())
}

// report sends the done call with the figures. mu held.
func (b *bwCheck) report(now time.Time) {
	b.finish()
	elapsed := now.Sub(b.dataStart)
	deltaTime := elapsed - time.Duration(b.rounds)*b.latency
	if deltaTime <= 0 {
		deltaTime = elapsed
	}
	secs := max(deltaTime.Seconds(), 1e-6)
	// The payloads, not the connection's byte counter: the writer counts
	// a write after it returns, which may be after the client's answer
	// to it has arrived.
	deltaDown := float64(b.sent) * 8 / 1000
	kbitDown := math.Round(deltaDown / secs)
	latency := float64(b.latency.Microseconds()) / 1000
	b.c.log.Info("bandwidth check", "kbit_down", kbitDown, "kbit_sent", deltaDown, "seconds", secs, "latency_ms", latency, "rounds", b.rounds)
	b.p.Call(b.done, []amf.Value{amf.Number(kbitDown), amf.Number(deltaDown), amf.Number(secs), amf.Number(latency)}, nil)
}

// finish marks the check over. mu held.
func (b *bwCheck) finish() {
	b.finished = true
	if b.timer != nil {
		b.timer.Stop()
	}
}
