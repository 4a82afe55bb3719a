package ssas

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// Monitoring: counters of script entries (a handler, a call, a timer), per
// instance and for the whole host, read by the admin API and the metrics.
// Each entry costs a few atomic adds; nothing is kept per call.

// LatencyBuckets are the upper bounds of the entry-duration histogram
// (ScriptStats.Buckets counts entries at or below each bound).
var LatencyBuckets = [...]time.Duration{
	100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 5 * time.Second,
}

// ScriptStats are the counters of script entries.
type ScriptStats struct {
	Entries    uint64        // handlers, calls and timers run
	Errors     uint64        // entries that threw (interrupts included)
	Interrupts uint64        // entries stopped for running past ssas.max_script_time
	Time       time.Duration // time spent in entries
	// Buckets[i] counts entries that took at most LatencyBuckets[i]
	// (cumulative, as Prometheus histograms are); Entries counts them all.
	Buckets [len(LatencyBuckets)]uint64
	// Traces is the number of trace() lines written.
	Traces uint64
}

// scriptCounters accumulate ScriptStats.
type scriptCounters struct {
	entries, errors, interrupts, traces atomic.Uint64
	nanos                               atomic.Int64
	buckets                             [len(LatencyBuckets)]atomic.Uint64 // not cumulative
}

func (c *scriptCounters) entry(d time.Duration, err error) {
	c.entries.Add(1)
	c.nanos.Add(int64(d))
	for i, b := range LatencyBuckets {
		if d <= b {
			c.buckets[i].Add(1)
			break
		}
	}
	if err != nil {
		c.errors.Add(1)
		if _, ok := errors.AsType[*goja.InterruptedError](err); ok {
			c.interrupts.Add(1)
		}
	}
}

func (c *scriptCounters) load() ScriptStats {
	s := ScriptStats{Entries: c.entries.Load(), Errors: c.errors.Load(), Interrupts: c.interrupts.Load(),
		Time: time.Duration(c.nanos.Load()), Traces: c.traces.Load()}
	var sum uint64
	for i := range c.buckets {
		sum += c.buckets[i].Load()
		s.Buckets[i] = sum
	}
	return s
}

// Stats returns the counters of every script the host has run.
func (h *Host) Stats() ScriptStats { return h.counters.load() }

// Stats returns the counters of this instance's script.
func (r *Runtime) Stats() ScriptStats { return r.counters.load() }

// LastError returns the last script error of the instance ("" when none),
// with its file and line.
func (r *Runtime) LastError() string { return r.lastError.Load().(string) }
