package webrtc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// Converters (docs/webrtc.md#conversion) are ffmpeg processes the server
// keeps running for a stream: fed through a bounded queue that never
// makes the stream wait, restarted with a log line when they die, and
// counted against webrtc.max_converters so that no client can make the
// server start processes without bound.

const (
	// procQueue bounds the chunks waiting for a converter's stdin:
	// seconds of audio or about a second of video. Past it chunks are
	// dropped (counted): the stream never waits for ffmpeg.
	procQueue = 256
	// A converter that ran at least procSteady before it died is
	// restarted at once: its viewers' audio is missing until the new
	// process speaks. One that died sooner (input ffmpeg rejects, a
	// missing encoder) waits procBackoff, doubled at each quick death up
	// to procBackoffMax, so that it does not spin.
	procSteady     = 2 * time.Second
	procBackoff    = 200 * time.Millisecond
	procBackoffMax = 5 * time.Second
)

// errConverterLimit: webrtc.max_converters processes run already.
var errConverterLimit = errors.New("webrtc: converter limit reached (webrtc.max_converters)")

// proc is one managed ffmpeg process, restarted when it dies.
type proc struct {
	s    *Server
	log  *slog.Logger
	args []string
	// preamble returns what stdin gets first at every start (a file
	// header, the codec's configuration); read consumes stdout until it
	// fails; started runs before each process is fed.
	preamble func() [][]byte
	read     func(io.Reader) error
	started  func()

	in     chan []byte
	cancel context.CancelFunc
	done   chan struct{}

	restarts atomic.Uint64
	dropped  atomic.Uint64
}

// startProc takes a slot of webrtc.max_converters and starts p's
// process; the slot is given back when stop returns.
func (s *Server) startProc(ctx context.Context, p *proc) error {
	for {
		n := s.converters.Load()
		if n >= int64(s.cfg.MaxConverters) {
			return errConverterLimit
		}
		if s.converters.CompareAndSwap(n, n+1) {
			break
		}
	}
	p.s = s
	p.in = make(chan []byte, procQueue)
	p.done = make(chan struct{})
	ctx, p.cancel = context.WithCancel(ctx)
	go p.run(ctx)
	return nil
}

// feed queues one chunk for stdin; never blocks.
func (p *proc) feed(b []byte) {
	select {
	case p.in <- b:
	default:
		p.dropped.Add(1)
	}
}

// stop ends the process and waits for its goroutines.
func (p *proc) stop() {
	p.cancel()
	<-p.done
}

func (p *proc) run(ctx context.Context) {
	defer close(p.done)
	defer p.s.converters.Add(-1)
	backoff := time.Duration(0)
	for {
		began := time.Now()
		err := p.once(ctx)
		if ctx.Err() != nil {
			return
		}
		backoff = nextBackoff(time.Since(began), backoff)
		p.restarts.Add(1)
		p.log.Warn("webrtc converter exited; restarting", "err", err, "restarts", p.restarts.Load(), "after", backoff)
		if backoff == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// nextBackoff is the pause before the next start of a process that ran
// for ran, the last pause having been prev.
func nextBackoff(ran, prev time.Duration) time.Duration {
	switch {
	case ran >= procSteady:
		return 0
	case prev == 0:
		return procBackoff
	default:
		return min(2*prev, procBackoffMax)
	}
}

// once runs one process until it exits or ctx ends.
func (p *proc) once(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, p.s.cfg.FFmpeg, p.args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	p.log.Info("webrtc converter started", "pid", cmd.Process.Pid)
	if p.started != nil {
		p.started()
	}
	procDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stdin.Close()
		for _, b := range p.preamble() {
			if _, err := stdin.Write(b); err != nil {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-procDone:
				return
			case b := <-p.in:
				if _, err := stdin.Write(b); err != nil {
					return
				}
			}
		}
	})
	readErr := p.read(stdout) // never nil: io.EOF when ffmpeg closed its output
	close(procDone)
	_ = cmd.Process.Kill() // the reader ended first: ffmpeg is stuck or its output broke
	waitErr := cmd.Wait()
	wg.Wait()
	if waitErr == nil && !errors.Is(readErr, io.EOF) {
		waitErr = readErr
	}
	if tail := bytes.TrimSpace(stderr.Bytes()); len(tail) > 0 && waitErr != nil {
		waitErr = errors.Join(waitErr, errors.New(string(tail)))
	}
	return waitErr
}

// tailBuffer keeps the last bytes ffmpeg wrote to stderr, for the log
// line of its exit.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

const tailMax = 512

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.b...)
}
