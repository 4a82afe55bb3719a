package admin

import (
	"sync"
	"time"
)

// rates turns byte counters into rates: each key remembers the counter and
// the time of its last sample. A sample at least a second after the
// previous one sets the rate; a closer one returns the rate as it was.
// Without a previous sample the rate is the average since start. Keys not
// sampled for forgetAfter are dropped, so streams that ended do not stay.
type rates struct {
	mu      sync.Mutex
	samples map[string]rateSample
	swept   time.Time
}

type rateSample struct {
	at    time.Time
	count uint64
	rate  float64
}

const (
	rateMinGap  = time.Second
	forgetAfter = 10 * time.Minute
)

// rate returns count's rate per second at now.
func (r *rates) rate(key string, count uint64, now, start time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.samples == nil {
		r.samples = map[string]rateSample{}
	}
	if now.Sub(r.swept) > forgetAfter {
		for k, s := range r.samples {
			if now.Sub(s.at) > forgetAfter {
				delete(r.samples, k)
			}
		}
		r.swept = now
	}
	prev, ok := r.samples[key]
	switch {
	case !ok:
		rate := 0.0
		if d := now.Sub(start).Seconds(); d > 0 {
			rate = float64(count) / d
		}
		r.samples[key] = rateSample{at: now, count: count, rate: rate}
		return rate
	case now.Sub(prev.at) < rateMinGap:
		return prev.rate
	}
	rate := 0.0
	if count >= prev.count { // a counter summed over players falls when one leaves
		rate = float64(count-prev.count) / now.Sub(prev.at).Seconds()
	}
	r.samples[key] = rateSample{at: now, count: count, rate: rate}
	return rate
}
