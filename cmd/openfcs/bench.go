package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openfcs/openfcs/internal/loadbench"
)

// `openfcs bench` (docs/operations.md#bench): one load scenario against a
// server, and with --compare the same scenario against another one in the
// same run, with the ratios.

const benchUsage = `Usage: openfcs bench --url rtmp://host:port/app [flags]

Runs publishers of synthetic streams, players spread over them, shared
object users and RPC callers against a server (rtmp://, rtmpt:// or
rtmpws://) and reports throughput, latency percentiles, errors and the
server's CPU (from its /metrics, or /proc with --pid). With --compare, the
same scenario then runs against another server (nginx-rtmp, say) and the
ratios are printed.

Flags:
`

type benchFlags struct {
	fs                            *flag.FlagSet
	url, metrics, token, pids     *string
	compare, cmpMetrics, cmpToken *string
	cmpPids                       *string
	publishers, players, soUsers  *int
	rpc, bitrate, fps             *int
	rpcMethod                     *string
	warmup, duration              *time.Duration
	jsonOut                       *bool
}

func newBenchFlags(out io.Writer) *benchFlags {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	f := &benchFlags{fs: fs,
		url:        fs.String("url", "", "server and application: rtmp://host:port/app (or rtmpt://, rtmpws://)"),
		metrics:    fs.String("metrics", "", "the server's Prometheus metrics URL for its CPU (openfcs: http://127.0.0.1:8086/metrics)"),
		token:      fs.String("token", "", "bearer token for --metrics (default $OPENFCS_ADMIN_TOKEN)"),
		pids:       fs.String("pid", "", "the server's process ids (comma-separated) for its CPU from /proc, instead of --metrics"),
		compare:    fs.String("compare", "", "another server's URL: run the same scenario there and print the ratios"),
		cmpMetrics: fs.String("compare-metrics", "", "the other server's metrics URL"),
		cmpToken:   fs.String("compare-token", "", "bearer token for --compare-metrics"),
		cmpPids:    fs.String("compare-pid", "", "the other server's process ids (nginx: master and workers), comma-separated"),
		publishers: fs.Int("publishers", 1, "publishers, each of its own stream bench-N"),
		players:    fs.Int("players", 50, "players, spread over the streams"),
		soUsers:    fs.Int("so-users", 0, "shared-object users (each changes its slot of SO \"bench\" every 200 ms)"),
		rpc:        fs.Int("rpc", 0, "RPC callers (each calls --rpc-method every 100 ms)"),
		rpcMethod:  fs.String("rpc-method", "benchEcho", "the method RPC callers call"),
		bitrate:    fs.Int("bitrate", 1_000_000, "bits per second of each synthetic stream"),
		fps:        fs.Int("fps", 25, "video frames per second of each stream"),
		warmup:     fs.Duration("warmup", 3*time.Second, "time between the clients joining and the window"),
		duration:   fs.Duration("duration", 10*time.Second, "the measured window"),
		jsonOut:    fs.Bool("json", false, "print the reports as JSON"),
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	return f
}

func parsePids(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("process id %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func cpuSource(metrics, token, pids string) (loadbench.CPUSource, error) {
	switch {
	case metrics != "":
		return loadbench.MetricsCPU(metrics, token), nil
	case pids != "":
		p, err := parsePids(pids)
		if err != nil {
			return nil, err
		}
		return loadbench.ProcCPU(p), nil
	}
	return nil, nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newBenchFlags(stderr)
	if wantsHelp(args) {
		f.fs.SetOutput(stdout)
		f.fs.Usage()
		return nil
	}
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if *f.url == "" {
		f.fs.Usage()
		return errors.New("bench: --url is required")
	}
	if *f.token == "" {
		*f.token = os.Getenv("OPENFCS_ADMIN_TOKEN")
	}
	scen := loadbench.Scenario{Publishers: *f.publishers, Players: *f.players, SOUsers: *f.soUsers,
		RPCCallers: *f.rpc, RPCMethod: *f.rpcMethod, Warmup: *f.warmup, Duration: *f.duration,
		Stream: loadbench.Stream{Bitrate: *f.bitrate, FPS: *f.fps}}
	var reports []loadbench.Report
	for i, target := range []struct{ url, metrics, token, pids string }{
		{*f.url, *f.metrics, *f.token, *f.pids},
		{*f.compare, *f.cmpMetrics, *f.cmpToken, *f.cmpPids},
	} {
		if target.url == "" {
			continue
		}
		cpu, err := cpuSource(target.metrics, target.token, target.pids)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		s := scen
		s.URL, s.CPU = target.url, cpu
		if !*f.jsonOut {
			fmt.Fprintf(stderr, "bench: %s: %d publishers, %d players, %d shared-object users, %d RPC callers, %v window\n",
				target.url, s.Publishers, s.Players, s.SOUsers, s.RPCCallers, s.Duration)
		}
		r, err := loadbench.RunScenario(ctx, s)
		if err != nil {
			return fmt.Errorf("bench %s: %w", target.url, err)
		}
		reports = append(reports, r)
		if i == 0 && *f.compare != "" {
			// Let the first server settle before the second run.
			time.Sleep(time.Second)
		}
	}
	if *f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Reports []loadbench.Report `json:"reports"`
			Ratios  map[string]float64 `json:"ratios,omitempty"`
		}{reports, benchRatios(reports)})
	}
	printBench(stdout, reports)
	return nil
}

// benchRatios compares the first report with the second: first / second.
func benchRatios(rs []loadbench.Report) map[string]float64 {
	if len(rs) < 2 {
		return nil
	}
	a, b := rs[0], rs[1]
	out := map[string]float64{}
	ratio := func(k string, x, y float64) {
		if x > 0 && y > 0 {
			out[k] = x / y
		}
	}
	ratio("cpu_seconds_per_gbit", a.CPUPerGbit, b.CPUPerGbit)
	ratio("mbit_per_s", a.Mbps, b.Mbps)
	ratio("media_latency_p50", a.MediaP50MS, b.MediaP50MS)
	ratio("media_latency_p99", a.MediaP99MS, b.MediaP99MS)
	return out
}

func printBench(w io.Writer, rs []loadbench.Report) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(name string, f func(r loadbench.Report) string) {
		fmt.Fprint(tw, name)
		for _, r := range rs {
			fmt.Fprint(tw, "\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	num := func(v float64, unit string) string {
		if v == 0 {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', 2, 64) + unit
	}
	row("server", func(r loadbench.Report) string { return r.URL })
	row("window", func(r loadbench.Report) string { return num(r.Seconds, " s") })
	row("publishers", func(r loadbench.Report) string { return fmt.Sprintf("%d/%d", r.Publishers, r.PublishersAsk) })
	row("players", func(r loadbench.Report) string {
		return fmt.Sprintf("%d/%d (%d dropped)", r.Players, r.PlayersAsk, r.Dropped)
	})
	row("received", func(r loadbench.Report) string { return num(r.Mbps, " Mbit/s") })
	row("media messages", func(r loadbench.Report) string { return strconv.FormatInt(r.Messages, 10) })
	row("media latency p50/p95/p99", func(r loadbench.Report) string {
		return fmt.Sprintf("%s / %s / %s", num(r.MediaP50MS, " ms"), num(r.MediaP95MS, " ms"), num(r.MediaP99MS, " ms"))
	})
	row("shared-object changes", func(r loadbench.Report) string {
		return fmt.Sprintf("%d, p50 %s, p99 %s", r.SOChanges, num(r.SOP50MS, " ms"), num(r.SOP99MS, " ms"))
	})
	row("calls (error answers)", func(r loadbench.Report) string {
		return fmt.Sprintf("%d (%d), p50 %s, p99 %s", r.RPCCalls, r.RPCErrors, num(r.RPCP50MS, " ms"), num(r.RPCP99MS, " ms"))
	})
	row("server CPU", func(r loadbench.Report) string { return num(r.CPUPercent, " %") })
	row("CPU per delivered Gbit", func(r loadbench.Report) string { return num(r.CPUPerGbit, " s") })
	row("errors", func(r loadbench.Report) string { return strconv.Itoa(len(r.Errors)) })
	_ = tw.Flush()
	for _, r := range rs {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "error %s: %s\n", r.URL, e)
		}
	}
	ratios := benchRatios(rs)
	if len(rs) == 2 {
		if v, ok := ratios["cpu_seconds_per_gbit"]; ok {
			fmt.Fprintf(w, "CPU per delivered byte, %s / %s: %.2f\n", rs[0].URL, rs[1].URL, v)
		} else {
			fmt.Fprintln(w, "CPU per delivered byte: not compared (give --metrics or --pid, and --compare-metrics or --compare-pid)")
		}
		if v, ok := ratios["mbit_per_s"]; ok {
			fmt.Fprintf(w, "received throughput ratio: %.2f\n", v)
		}
		if v, ok := ratios["media_latency_p50"]; ok {
			fmt.Fprintf(w, "media latency p50 ratio: %.2f\n", v)
		}
	}
}
