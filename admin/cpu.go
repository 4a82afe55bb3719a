package admin

import (
	"sync"
	"time"
)

// cpuSampler turns the process's CPU time into a usage figure: CPU time
// over wall time between two calls, in percent of one core.
type cpuSampler struct {
	mu      sync.Mutex
	lastAt  time.Time
	lastCPU time.Duration
	last    float64
}

func (c *cpuSampler) usage(now time.Time) float64 {
	cpu, ok := processCPU()
	if !ok {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastAt.IsZero() {
		c.lastAt, c.lastCPU = now, cpu
		return 0
	}
	if d := now.Sub(c.lastAt); d >= rateMinGap {
		c.last = 100 * float64(cpu-c.lastCPU) / float64(d)
		c.lastAt, c.lastCPU = now, cpu
	}
	return c.last
}
