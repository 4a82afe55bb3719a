package webrtc

import (
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// converterBench runs one converter's ffmpeg under a benchmark that feeds
// it in real time, and reports what the converter costs: the mean delay
// from writing a frame to reading its output (latency-ms) and the
// process's CPU per second of stream (cpu-ms/s). Each converter benchmark
// keeps its own pacing loop because the frame grid differs per codec.
type converterBench struct {
	b     *testing.B
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu    sync.Mutex
	start time.Time
	sent  map[uint32]time.Time // stream ms -> when written
	lat   time.Duration
	got   int
}

// startConverterBench starts ffmpeg with args; read consumes its output
// on a goroutine of its own, calling arrived or arrivedAfter per frame.
func startConverterBench(b *testing.B, args []string, read func(c *converterBench, stdout io.Reader)) *converterBench {
	b.Helper()
	cmd := exec.Command("ffmpeg", args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &converterBench{b: b, cmd: cmd, stdin: stdin, done: make(chan struct{}), sent: map[uint32]time.Time{}}
	go func() {
		defer close(c.done)
		read(c, stdout)
	}()
	return c
}

// readFLVFrames reads a converter's FLV output: each coded frame (not a
// sequence header) is the output of the frame written at stream time
// key(ms).
func readFLVFrames(maxTag int, key func(ms uint32) uint32) func(*converterBench, io.Reader) {
	return func(c *converterBench, stdout io.Reader) {
		_ = readFLVTags(stdout, maxTag, func(_ uint8, ms uint32, body []byte) {
			if len(body) > 1 && body[1] == 1 {
				c.arrived(key(ms))
			}
		})
	}
}

// begin marks the stream's start, the time arrivedAfter counts from.
func (c *converterBench) begin() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start = time.Now()
	return c.start
}

// write feeds ffmpeg without marking anything to measure.
func (c *converterBench) write(p []byte) { _, _ = c.stdin.Write(p) }

// send feeds ffmpeg p, noting the stream time ms is written now.
func (c *converterBench) send(ms uint32, p []byte) {
	c.mu.Lock()
	c.sent[ms] = time.Now()
	c.mu.Unlock()
	c.write(p)
}

// arrived counts the output of the frame sent at stream time ms, if it was.
func (c *converterBench) arrived(ms uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at, ok := c.sent[ms]; ok {
		c.lat += time.Since(at)
		c.got++
	}
}

// arrivedAfter counts output that was due d after begin.
func (c *converterBench) arrivedAfter(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lat += time.Since(c.start.Add(d))
	c.got++
}

// finish ends the stream, waits for ffmpeg and reports the figures over
// the seconds of stream written.
func (c *converterBench) finish(seconds float64) {
	_ = c.stdin.Close()
	<-c.done
	_ = c.cmd.Wait()
	cpu := c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got > 0 {
		c.b.ReportMetric(float64(c.lat.Milliseconds())/float64(c.got), "latency-ms")
	}
	c.b.ReportMetric(float64(cpu.Milliseconds())/seconds, "cpu-ms/s")
}
