// Command openfcs-load generates RTMP load with the project's own client
// and prints what it measured as JSON lines on stdout.
//
//	openfcs-load play    -url rtmp://host:port/app/stream -n 1000 -duration 30s
//	openfcs-load publish -url rtmp://host:port/app/stream -bitrate 1M -fps 25 -duration 30s
//	openfcs-load idle    -url rtmp://host:port/app -n 1000
//	openfcs-load sink    -addr host:port -n 150
//	openfcs-load ingest  -url rtmp://host:port/app/stream -n 500 -bitrate 1M
//	openfcs-load so      -url rtmp://host:port/app -n 1000 -rate 1000
//
// play and publish take rtmpws:// URLs too (RTMP over WebSocket).
//
// play opens N players (in batches of -ramp) and counts what each receives;
// idle opens N handshaken, connected RTMP connections and holds them (the
// memory benchmark; over rtmpt://, -http-conns makes the sessions share
// that many HTTP connections); sink opens N plain TCP connections that only read
// (the floor benchmark; with -so-floor, the shared-object floor's records,
// timed as so times changes); ingest opens N publishers of the synthetic stream,
// each on a stream of its own (stream-0, stream-1, ...: the ingest
// benchmark); so opens N subscribers of the remote shared object "bench" and
// one writer changing it -rate times a second, and measures the time from a
// change to its read by the last subscriber; publish sends a synthetic stream (AVC and AAC
// configuration, a keyframe every 2 s, flat-size frames, 20 ms audio).
// -cpuprofile writes the tool's own CPU profile, so that what the tool
// costs itself can be told from what it measures. With -stdin, every line read on stdin prints a snapshot of the counters
// (publish: of what it sent) and EOF on stdin ends the run: the benchmarks
// in internal/loadbench drive the tool that way. The tool is wiring only; the work is in
// internal/loadbench.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openfcs/openfcs/internal/loadbench"
)

const usage = `usage: openfcs-load play|publish|idle|sink|ingest|so [flags]  (openfcs-load <command> -h for flags)`

func main() {
	// The RTMP client allocates every message it reads; the tool runs
	// beside the server it measures, so it trades memory for fewer GC
	// cycles unless GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "openfcs-load:", err)
		}
		os.Exit(2)
	}
}

// command is a parsed command line.
type command struct {
	mode     string // play, publish, idle, sink, ingest, so
	fleet    loadbench.FleetOptions
	publish  loadbench.PublishOptions
	duration time.Duration // publish only: how long to publish, 0 until interrupted
	stdin    bool
	profile  string // file for the tool's own CPU profile, "" for none
}

func parseArgs(args []string, stderr io.Writer) (command, error) {
	if len(args) == 0 {
		return command{}, errors.New(usage)
	}
	cmd := command{mode: args[0]}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var target *string
	switch cmd.mode {
	case "play":
		target = fs.String("url", "", "stream to play: rtmp://host[:port]/app[/instance]/stream")
		cmd.fleet.Mode = loadbench.ModePlay
	case "idle":
		target = fs.String("url", "", "application to connect to: rtmp://host[:port]/app[/instance]")
		cmd.fleet.Mode = loadbench.ModeIdle
	case "sink":
		target = fs.String("addr", "", "TCP address to connect to: host:port")
		cmd.fleet.Mode = loadbench.ModeSink
		fs.BoolVar(&cmd.fleet.SOFloor, "so-floor", false, "read the shared-object floor's records and time the changes they name, as so does")
	case "publish":
		target = fs.String("url", "", "stream to publish: rtmp://host[:port]/app[/instance]/stream")
	case "ingest":
		target = fs.String("url", "", "streams to publish: rtmp://host[:port]/app[/instance]/stream publishes stream-0, stream-1, ...")
		cmd.fleet.Mode = loadbench.ModeIngest
	case "so":
		target = fs.String("url", "", "application whose shared object \"bench\" to use: rtmp://host[:port]/app[/instance]")
		cmd.fleet.Mode = loadbench.ModeSO
		fs.IntVar(&cmd.fleet.Rate, "rate", 1000, "changes per second of the writer")
	default:
		return command{}, fmt.Errorf("unknown command %q; %s", cmd.mode, usage)
	}
	fs.BoolVar(&cmd.stdin, "stdin", false, "print a snapshot per line read on stdin; EOF ends the run")
	fs.StringVar(&cmd.profile, "cpuprofile", "", "write the tool's own CPU profile to this file (what measuring costs the tool)")
	var bitrate, pacing string
	var d time.Duration
	stream := &cmd.publish.Stream
	if cmd.mode == "ingest" {
		stream = &cmd.fleet.Stream
	}
	if cmd.mode == "publish" || cmd.mode == "ingest" {
		fs.StringVar(&bitrate, "bitrate", "1M", "total bitrate (audio included), e.g. 800k, 1M, 2.5M")
		fs.IntVar(&stream.FPS, "fps", 25, "video frames per second")
		fs.DurationVar(&stream.KeyframeInterval, "keyframe", 2*time.Second, "time between keyframes")
		fs.IntVar(&stream.AudioBytes, "audio-bytes", 200, "bytes per 20 ms audio message")
		fs.StringVar(&pacing, "pacing", "timestamp", "send each message at its timestamp (timestamp) or each frame interval's messages together (tick)")
	}
	if cmd.mode == "publish" {
		fs.DurationVar(&cmd.publish.ConnectTimeout, "connect-timeout", 10*time.Second, "bound on connect and publish")
		fs.DurationVar(&d, "duration", 30*time.Second, "how long to publish; 0 until interrupted")
	} else {
		defDuration := 30 * time.Second
		if cmd.mode == "idle" {
			defDuration = 0
		}
		fs.IntVar(&cmd.fleet.N, "n", 1, "number of connections")
		fs.IntVar(&cmd.fleet.HTTPConns, "http-conns", 0, "rtmpt://: the most HTTP connections all sessions share (0: one kept alive per session)")
		fs.IntVar(&cmd.fleet.Ramp, "ramp", 200, "connections opened at once")
		fs.DurationVar(&cmd.fleet.ConnectTimeout, "connect-timeout", 10*time.Second, "bound on opening one connection")
		fs.DurationVar(&cmd.fleet.Warmup, "warmup", 2*time.Second, "wait between the last connection and the measured window")
		fs.DurationVar(&d, "duration", defDuration, "measured window; 0 until interrupted (or stdin EOF with -stdin)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return command{}, err
	}
	if fs.NArg() > 0 {
		return command{}, fmt.Errorf("%s: unexpected arguments %q", cmd.mode, fs.Args())
	}
	if *target == "" {
		name := "-url"
		if cmd.mode == "sink" {
			name = "-addr"
		}
		return command{}, fmt.Errorf("%s: %s is required", cmd.mode, name)
	}
	if d < 0 {
		return command{}, fmt.Errorf("%s: -duration %v is negative", cmd.mode, d)
	}
	if cmd.mode == "publish" {
		var err error
		cmd.publish.URL = *target
		if cmd.publish.Stream.Bitrate, err = parseBitrate(bitrate); err != nil {
			return command{}, err
		}
		if cmd.publish.Pacing, err = loadbench.ParsePacing(pacing); err != nil {
			return command{}, err
		}
		if cmd.publish.Stream.FPS <= 0 || cmd.publish.Stream.FPS > 1000 {
			return command{}, fmt.Errorf("publish: -fps %d: want 1..1000", cmd.publish.Stream.FPS)
		}
		cmd.duration = d
		return cmd, nil
	}
	if cmd.mode == "ingest" {
		var err error
		if cmd.fleet.Stream.Bitrate, err = parseBitrate(bitrate); err != nil {
			return command{}, err
		}
		if cmd.fleet.Pacing, err = loadbench.ParsePacing(pacing); err != nil {
			return command{}, err
		}
		if cmd.fleet.Stream.FPS <= 0 || cmd.fleet.Stream.FPS > 1000 {
			return command{}, fmt.Errorf("ingest: -fps %d: want 1..1000", cmd.fleet.Stream.FPS)
		}
	}
	if cmd.mode == "so" && cmd.fleet.Rate <= 0 {
		return command{}, fmt.Errorf("so: -rate %d: want at least 1", cmd.fleet.Rate)
	}
	if cmd.fleet.N <= 0 {
		return command{}, fmt.Errorf("%s: -n %d: want at least 1", cmd.mode, cmd.fleet.N)
	}
	if cmd.fleet.Ramp <= 0 {
		return command{}, fmt.Errorf("%s: -ramp %d: want at least 1", cmd.mode, cmd.fleet.Ramp)
	}
	if cmd.fleet.HTTPConns < 0 {
		return command{}, fmt.Errorf("%s: -http-conns %d: want 0 or more", cmd.mode, cmd.fleet.HTTPConns)
	}
	cmd.fleet.Target = *target
	cmd.fleet.Duration = d
	return cmd, nil
}

// parseBitrate parses a bit rate with an optional k, M or G suffix
// (decimal: 1M is 1,000,000 bit/s).
func parseBitrate(s string) (int, error) {
	mult := 1.0
	num := s
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, num = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, num = 1e6, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, num = 1e9, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v*mult > 1e10 {
		return 0, fmt.Errorf("bitrate %q: want a positive number with an optional k, M or G suffix", s)
	}
	return int(v * mult), nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	if cmd.profile != "" {
		f, err := os.Create(cmd.profile)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cmd.mode == "publish" {
		var control io.Reader
		if cmd.stdin {
			control = stdin
		}
		return publish(ctx, cmd, control, stdout)
	}
	if cmd.stdin {
		cmd.fleet.Control = stdin
	}
	_, err = loadbench.RunFleet(ctx, cmd.fleet, stdout)
	return err
}

// publishSummary is publish's last line.
type publishSummary struct {
	Event    string  `json:"event"` // "summary"
	Mode     string  `json:"mode"`  // "publish"
	Target   string  `json:"target"`
	Seconds  float64 `json:"seconds"`
	Messages int64   `json:"messages"`
	Bytes    int64   `json:"bytes"` // payload bytes
	Mbps     float64 `json:"mbit_per_s"`
	Error    string  `json:"error,omitempty"`
}

// publishSnapshot is what publish prints per line read from its control.
type publishSnapshot struct {
	Event string `json:"event"` // "snapshot"
	loadbench.PublishStats
}

func publish(ctx context.Context, cmd command, control io.Reader, stdout io.Writer) error {
	var cancel context.CancelFunc
	if cmd.duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, cmd.duration)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	p, err := loadbench.Publish(ctx, cmd.publish)
	if err != nil {
		return err
	}
	defer func() { _ = p.Close() }()
	var out lockedWriter
	out.w = stdout
	out.printf("{\"event\":\"published\",\"video_frame_bytes\":%d}\n", p.Synth().Stream().VideoFrameBytes())
	if control != nil {
		// Not waited for: it ends at EOF, which also ends the run.
		go func() {
			defer cancel()
			sc := bufio.NewScanner(control)
			for sc.Scan() {
				_ = out.json(publishSnapshot{Event: "snapshot", PublishStats: p.Stats()})
			}
		}()
	}
	start := time.Now()
	runErr := p.Run(ctx)
	st := p.Stats()
	s := publishSummary{Event: "summary", Mode: "publish", Target: cmd.publish.URL,
		Seconds: time.Since(start).Seconds(), Messages: st.Messages, Bytes: st.Bytes}
	if s.Seconds > 0 {
		s.Mbps = float64(s.Bytes) * 8 / s.Seconds / 1e6
	}
	if runErr != nil {
		s.Error = runErr.Error()
	}
	if err := out.json(s); err != nil {
		return err
	}
	return runErr
}
