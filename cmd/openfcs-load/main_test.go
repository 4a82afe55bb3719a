package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/internal/loadbench"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want command
	}{
		{"play as in the issue", []string{"play", "-url", "rtmp://h:1/live/s", "-n", "1000", "-duration", "30s"},
			command{mode: "play", fleet: loadbench.FleetOptions{Mode: loadbench.ModePlay, Target: "rtmp://h:1/live/s",
				N: 1000, Ramp: 200, ConnectTimeout: 10 * time.Second, Warmup: 2 * time.Second, Duration: 30 * time.Second}}},
		{"play driven by a benchmark", []string{"play", "-url", "rtmp://h/live/s", "-n", "150", "-ramp", "50", "-warmup", "0s", "-duration", "0", "-stdin"},
			command{mode: "play", stdin: true, fleet: loadbench.FleetOptions{Mode: loadbench.ModePlay, Target: "rtmp://h/live/s",
				N: 150, Ramp: 50, ConnectTimeout: 10 * time.Second}}},
		{"idle holds until interrupted by default", []string{"idle", "-url", "rtmp://h/live", "-n", "1000"},
			command{mode: "idle", fleet: loadbench.FleetOptions{Mode: loadbench.ModeIdle, Target: "rtmp://h/live",
				N: 1000, Ramp: 200, ConnectTimeout: 10 * time.Second, Warmup: 2 * time.Second}}},
		{"idle rtmpt sessions sharing HTTP connections", []string{"idle", "-url", "rtmpt://h/live", "-n", "2000", "-http-conns", "32"},
			command{mode: "idle", fleet: loadbench.FleetOptions{Mode: loadbench.ModeIdle, Target: "rtmpt://h/live",
				N: 2000, Ramp: 200, ConnectTimeout: 10 * time.Second, Warmup: 2 * time.Second, HTTPConns: 32}}},
		{"sink", []string{"sink", "-addr", "127.0.0.1:9", "-n", "150"},
			command{mode: "sink", fleet: loadbench.FleetOptions{Mode: loadbench.ModeSink, Target: "127.0.0.1:9",
				N: 150, Ramp: 200, ConnectTimeout: 10 * time.Second, Warmup: 2 * time.Second, Duration: 30 * time.Second}}},
		{"sink of the shared-object floor", []string{"sink", "-addr", "127.0.0.1:9", "-n", "1000", "-so-floor", "-stdin", "-duration", "0", "-warmup", "0s"},
			command{mode: "sink", stdin: true, fleet: loadbench.FleetOptions{Mode: loadbench.ModeSink, Target: "127.0.0.1:9",
				N: 1000, Ramp: 200, ConnectTimeout: 10 * time.Second, SOFloor: true}}},
		{"publish as in the issue", []string{"publish", "-url", "rtmp://h/live/s", "-bitrate", "1M", "-fps", "25", "-duration", "30s"},
			command{mode: "publish", duration: 30 * time.Second, publish: loadbench.PublishOptions{URL: "rtmp://h/live/s",
				ConnectTimeout: 10 * time.Second,
				Stream:         loadbench.Stream{Bitrate: 1_000_000, FPS: 25, KeyframeInterval: 2 * time.Second, AudioBytes: 200}}}},
		{"ingest: 300 publishers", []string{"ingest", "-url", "rtmp://h/live/s", "-n", "300", "-pacing", "tick", "-stdin", "-duration", "0", "-warmup", "0s"},
			command{mode: "ingest", stdin: true, fleet: loadbench.FleetOptions{Mode: loadbench.ModeIngest, Target: "rtmp://h/live/s",
				N: 300, Ramp: 200, ConnectTimeout: 10 * time.Second, Pacing: loadbench.PaceTick,
				Stream: loadbench.Stream{Bitrate: 1_000_000, FPS: 25, KeyframeInterval: 2 * time.Second, AudioBytes: 200}}}},
		{"so driven by a benchmark, profiling itself", []string{"so", "-url", "rtmp://h/live", "-n", "1000", "-rate", "1000", "-warmup", "0s", "-duration", "0", "-stdin", "-cpuprofile", "/tmp/tool.prof"},
			command{mode: "so", stdin: true, profile: "/tmp/tool.prof", fleet: loadbench.FleetOptions{Mode: loadbench.ModeSO, Target: "rtmp://h/live",
				N: 1000, Ramp: 200, ConnectTimeout: 10 * time.Second, Rate: 1000}}},
		{"publish tick pacing, 2.5M", []string{"publish", "-url", "rtmp://h/live/s", "-bitrate", "2.5M", "-pacing", "tick", "-keyframe", "1s"},
			command{mode: "publish", duration: 30 * time.Second, publish: loadbench.PublishOptions{URL: "rtmp://h/live/s",
				ConnectTimeout: 10 * time.Second, Pacing: loadbench.PaceTick,
				Stream: loadbench.Stream{Bitrate: 2_500_000, FPS: 25, KeyframeInterval: time.Second, AudioBytes: 200}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseArgs(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"dance"}, `unknown command "dance"`},
		{"play without url", []string{"play", "-n", "3"}, "-url is required"},
		{"sink without addr", []string{"sink"}, "-addr is required"},
		{"zero players", []string{"play", "-url", "rtmp://h/live/s", "-n", "0"}, "-n 0"},
		{"zero ramp", []string{"idle", "-url", "rtmp://h/live", "-ramp", "0"}, "-ramp 0"},
		{"negative http-conns", []string{"idle", "-url", "rtmpt://h/live", "-http-conns", "-1"}, "-http-conns -1"},
		{"negative duration", []string{"sink", "-addr", "h:1", "-duration", "-1s"}, "negative"},
		{"stray argument", []string{"play", "-url", "rtmp://h/live/s", "extra"}, "unexpected arguments"},
		{"bad bitrate", []string{"publish", "-url", "rtmp://h/live/s", "-bitrate", "fast"}, `bitrate "fast"`},
		{"bad pacing", []string{"publish", "-url", "rtmp://h/live/s", "-pacing", "lazy"}, `pacing "lazy"`},
		{"bad fps", []string{"publish", "-url", "rtmp://h/live/s", "-fps", "0"}, "-fps 0"},
		{"unknown flag", []string{"play", "-url", "rtmp://h/live/s", "-x"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgs(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseArgs(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseArgsHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseArgs([]string{"play", "-h"}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(stderr.String(), "-url") {
		t.Errorf("help does not list -url:\n%s", stderr.String())
	}
}

func TestParseBitrate(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1M", 1_000_000, true},
		{"800k", 800_000, true},
		{"800K", 800_000, true},
		{"2.5M", 2_500_000, true},
		{"1G", 1_000_000_000, true},
		{"64000", 64000, true},
		{"0", 0, false},
		{"-1M", 0, false},
		{"M", 0, false},
		{"100G", 0, false},
	}
	for _, tt := range tests {
		got, err := parseBitrate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseBitrate(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestRunSinkRefused runs the sink end to end against a closed port: the
// failures are counted in the summary, not fatal.
func TestRunSinkRefused(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"sink", "-addr", "127.0.0.1:1", "-n", "3", "-warmup", "0s", "-duration", "1ms"},
		strings.NewReader(""), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var s loadbench.Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if s.Event != "summary" || s.Mode != "sink" || s.Requested != 3 || s.Failed != 3 || s.Connected != 0 || len(s.Errors) == 0 {
		t.Errorf("summary = %+v, want 3 failed sinks with errors", s)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
