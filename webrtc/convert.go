package webrtc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/ogg"
)

// Conversion (docs/webrtc.md#conversion): a played stream whose audio
// WebRTC cannot carry gets one ffmpeg process, started with the stream's
// outlet (its first viewer) and stopped with it (its last viewer), which
// turns the audio into Opus for every viewer at once.

// convertible names the audio codecs a converter turns into Opus, as
// audioCodec names them.
var convertible = map[string]bool{
	"aac": true, "mp3": true, "mp3_8k": true, "speex": true,
	"nellymoser": true, "nellymoser8k": true, "nellymoser16k": true,
	"pcm": true, "pcm_le": true, "adpcm": true,
}

const (
	// converterQueue bounds the tags waiting for ffmpeg's stdin: a
	// second of audio at 50 tags per second, several times over. Past
	// it tags are dropped (counted): the outlet never waits for ffmpeg.
	converterQueue = 256
	// converterBackoff is the pause before restarting a converter that
	// died, so that a codec ffmpeg rejects does not spin.
	converterBackoff = 200 * time.Millisecond
	// opusFrame is the Opus frame ffmpeg is told to make: 20 ms, 960
	// samples at 48 kHz, one RTP packet each.
	opusFrame = 960
	// maxOpusPacket bounds a packet read back from ffmpeg.
	maxOpusPacket = 8 << 10
)

// converter is one ffmpeg process (restarted when it dies) turning a
// stream's audio into Opus RTP packets for the outlet's viewers.
type converter struct {
	o       *outlet
	log     *slog.Logger
	from    string
	in      chan []byte // FLV tags for ffmpeg's stdin
	cancel  context.CancelFunc
	done    chan struct{}
	config  atomic.Pointer[[]byte] // the codec's sequence header tag, sent first at every start
	lastMS  atomic.Uint32          // the time of the last tag fed
	nextTS  uint32                 // reader goroutine only
	seq     uint16                 // reader goroutine only
	started atomic.Int64           // unix ns of the current process's start

	restarts atomic.Uint64
	dropped  atomic.Uint64
	packets  atomic.Uint64
}

// startConverter starts the converter of o's audio (codec from).
func (o *outlet) startConverter(ctx context.Context, from string) *converter {
	ctx, cancel := context.WithCancel(ctx)
	c := &converter{o: o, from: from, in: make(chan []byte, converterQueue), cancel: cancel, done: make(chan struct{}),
		log: o.s.log.With("app", o.t.App, "instance", o.t.Instance, "stream", o.t.Stream, "from", from, "to", "opus")}
	go c.run(ctx)
	return c
}

// feed queues one audio packet for ffmpeg; never blocks.
func (c *converter) feed(payload []byte, ms uint32, config bool) {
	tag := flv.AppendTag(nil, flv.TagAudio, ms, payload)
	if config {
		c.config.Store(&tag)
	}
	c.lastMS.Store(ms)
	select {
	case c.in <- tag:
	default:
		c.dropped.Add(1)
	}
}

// stop ends the process and waits for the converter's goroutines.
func (c *converter) stop() {
	c.cancel()
	<-c.done
	c.log.Info("webrtc converter stopped", "restarts", c.restarts.Load(), "opus_packets", c.packets.Load(),
		"dropped", c.dropped.Load())
}

// run keeps one ffmpeg running until ctx ends.
func (c *converter) run(ctx context.Context) {
	defer close(c.done)
	for {
		err := c.once(ctx)
		if ctx.Err() != nil {
			return
		}
		c.restarts.Add(1)
		c.log.Warn("webrtc converter exited; restarting", "err", err, "restarts", c.restarts.Load())
		select {
		case <-ctx.Done():
			return
		case <-time.After(converterBackoff):
		}
	}
}

// args are ffmpeg's arguments: FLV audio in, Ogg Opus out, both through
// pipes, every buffer at its least (docs/webrtc.md#conversion).
func (c *converter) args() []string {
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-fflags", "nobuffer", "-flags", "low_delay", "-probesize", "32", "-analyzeduration", "0",
		"-f", "flv", "-i", "pipe:0",
		"-map", "0:a", "-c:a", "libopus", "-b:a", strconv.Itoa(c.o.s.cfg.OpusBitrate), "-ar", "48000", "-ac", "2",
		"-application", "lowdelay", "-frame_duration", "20",
		"-f", "ogg", "-page_duration", "20000", "-flush_packets", "1", "pipe:1"}
}

// once runs one ffmpeg process until it exits or ctx ends.
func (c *converter) once(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, c.o.s.cfg.FFmpeg, c.args()...)
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
	c.started.Store(time.Now().UnixNano())
	c.log.Info("webrtc converter started", "pid", cmd.Process.Pid)
	// RTP time goes on from where the stream is: a restart neither
	// rewinds nor jumps ahead of the other viewers' clocks.
	c.nextTS = max(c.nextTS, c.lastMS.Load()*48)

	procDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stdin.Close()
		hdr := flv.AppendHeader(nil, flv.FlagAudio)
		hdr = append(hdr, 0, 0, 0, 0) // PreviousTagSize0
		if _, err := stdin.Write(hdr); err != nil {
			return
		}
		if cfg := c.config.Load(); cfg != nil {
			if _, err := stdin.Write(*cfg); err != nil {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-procDone:
				return
			case tag := <-c.in:
				if _, err := stdin.Write(tag); err != nil {
					return
				}
			}
		}
	})
	readErr := c.read(stdout) // never nil: io.EOF when ffmpeg closed its output
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

// read takes Opus packets from ffmpeg's Ogg output and sends them to
// the viewers.
func (c *converter) read(r io.Reader) error {
	rd := ogg.NewReader(r, maxOpusPacket)
	for {
		p, err := rd.Next()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(p.Data, []byte("OpusHead")) || bytes.HasPrefix(p.Data, []byte("OpusTags")) {
			continue
		}
		c.seq++
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: c.seq, Timestamp: c.nextTS}, Payload: p.Data}
		c.nextTS += opusFrame
		c.packets.Add(1)
		c.o.mu.Lock()
		vs := c.o.viewers
		c.o.mu.Unlock()
		for _, v := range vs {
			if v.audioCodec == "opus" {
				v.write(v.audio, pkt)
			}
		}
	}
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
