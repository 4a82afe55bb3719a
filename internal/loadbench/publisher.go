package loadbench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
)

// Pacing says when a Publisher sends each message.
type Pacing uint8

// Pacing modes.
const (
	// PaceTimestamp sends every message when the wall clock reaches its
	// timestamp, as a real-time encoder does (ffmpeg -re): audio at 0, 20,
	// 40 ms, video at 0, 40 ms, so the server sees two arrivals per video
	// frame interval.
	PaceTimestamp Pacing = iota
	// PaceTick sends all messages of one video frame interval together at
	// its start, as a muxer that interleaves per frame does: one burst per
	// interval, the best case for a server that batches per wake-up.
	PaceTick
)

// String names the pacing as the -pacing flag spells it.
func (p Pacing) String() string {
	if p == PaceTick {
		return "tick"
	}
	return "timestamp"
}

// ParsePacing parses "timestamp" or "tick".
func ParsePacing(s string) (Pacing, error) {
	switch s {
	case "timestamp", "":
		return PaceTimestamp, nil
	case "tick":
		return PaceTick, nil
	}
	return 0, fmt.Errorf("pacing %q: want timestamp or tick", s)
}

// SplitStreamURL splits rtmp://host[:port]/app[/instance]/stream into the
// NetConnection URL and the stream name (the last path element).
// knownScheme reports the URL schemes the tool dials: RTMP over TCP, and
// RTMP over WebSocket (package bridge) to compare the two.
func knownScheme(s string) bool { return s == "rtmp" || s == "rtmpws" || s == "rtmpt" }

func SplitStreamURL(raw string) (connURL, stream string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("url %q: %w", raw, err)
	}
	if !knownScheme(u.Scheme) || u.Host == "" {
		return "", "", fmt.Errorf("url %q: want rtmp://host[:port]/app/stream (or rtmpt://, rtmpws://)", raw)
	}
	p := strings.Trim(u.Path, "/")
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return "", "", fmt.Errorf("url %q: want rtmp://host[:port]/app/stream", raw)
	}
	stream = p[i+1:]
	u.Path = "/" + p[:i]
	u.RawPath = ""
	return u.String(), stream, nil
}

// PublishOptions configures a Publisher.
type PublishOptions struct {
	// URL is rtmp://host[:port]/app[/instance]/stream.
	URL string
	// Stream describes the synthetic stream.
	Stream Stream
	// Pacing says when messages are sent. Default PaceTimestamp.
	Pacing Pacing
	// ConnectTimeout bounds the handshake, connect and publish. Default 10s.
	ConnectTimeout time.Duration
	// Dial, when set, opens the byte stream (rtmp.ClientConfig.Dial).
	Dial func(ctx context.Context, u *url.URL) (net.Conn, error)
}

// Publisher publishes a synthetic Stream in real time.
type Publisher struct {
	opts  PublishOptions
	c     *rtmp.Client
	s     *rtmp.ClientStream
	synth *Synth

	messages atomic.Int64
	bytes    atomic.Int64
}

// Publish connects, starts publishing and sends the codec configuration.
// Call Run next to send frames, and Close at the end.
func Publish(ctx context.Context, opts PublishOptions) (*Publisher, error) {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	connURL, name, err := SplitStreamURL(opts.URL)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	cc := rtmp.ClientConfig{Dial: opts.Dial}
	switch {
	case cc.Dial != nil:
	case strings.HasPrefix(connURL, "rtmpws:"):
		cc.Dial = dialWS
	case strings.HasPrefix(connURL, "rtmpt:"):
		cc.Dial = dialRTMPT
	}
	c, err := rtmp.Dial(cctx, connURL, cc)
	if err != nil {
		return nil, fmt.Errorf("publish: connect: %w", err)
	}
	s, err := c.CreateStream(cctx)
	if err == nil {
		err = s.Publish(cctx, name, "live")
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("publish %q: %w", name, err)
	}
	p := &Publisher{opts: opts, c: c, s: s, synth: NewSynth(opts.Stream)}
	for _, pk := range p.synth.Headers() {
		if err := p.write(pk); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return p, nil
}

// Synth returns the generator, for its effective Stream.
func (p *Publisher) Synth() *Synth { return p.synth }

func (p *Publisher) write(pk media.Packet) error {
	// The frame payloads are shared by every frame of their kind and
	// WritePacket copies them out before it returns, so the stamp can be
	// written into the shared bytes.
	stampVideo(pk.Payload, time.Now())
	if err := p.s.WritePacket(pk); err != nil {
		return fmt.Errorf("publish: write: %w", err)
	}
	p.messages.Add(1)
	p.bytes.Add(int64(len(pk.Payload)))
	return nil
}

// Run sends frames in real time until ctx ends (then it returns nil) or
// the connection fails.
func (p *Publisher) Run(ctx context.Context) error {
	start := time.Now()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		pk := p.synth.Next()
		due := pk.Time
		if p.opts.Pacing == PaceTick {
			due = p.synth.FrameStart(due)
		}
		if wait := time.Until(start.Add(time.Duration(due) * time.Millisecond)); wait > 0 {
			t.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-p.c.Done():
				return fmt.Errorf("publish: connection ended: %w", p.c.Err())
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if err := p.write(pk); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// PublishStats counts what a Publisher sent.
type PublishStats struct {
	Messages int64 `json:"messages"`
	Bytes    int64 `json:"bytes"` // payload bytes
}

// Stats returns the counts so far; safe to call while Run runs.
func (p *Publisher) Stats() PublishStats {
	return PublishStats{Messages: p.messages.Load(), Bytes: p.bytes.Load()}
}

// Close ends the connection.
func (p *Publisher) Close() error {
	err := p.c.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
