//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startNginxRTMPProc runs nginx-rtmp (one application "live") and returns
// its address and the process ids of its master and workers.
func startNginxRTMPProc(t *testing.T) (string, []int) {
	t.Helper()
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	conf := filepath.Join(dir, "nginx.conf")
	// The bench's players need more connections than the interop tests'.
	text := strings.Replace(fmt.Sprintf(nginxRTMPConf, dir, nginxRTMPModule, port), "worker_connections 64;", "worker_connections 1024;", 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, procOpts{}, "/usr/sbin/nginx", "-p", dir, "-c", conf, "-g", "daemon off;")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var pids []int
	waitFor(t, 10*time.Second, "nginx-rtmp and its worker", func() bool {
		if p.exited() {
			t.Fatalf("nginx exited: %v\n%s", p.err, p.stderr.String())
		}
		pids = append(pids[:0], p.cmd.Process.Pid)
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			s := string(b)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(p.cmd.Process.Pid) {
				pids = append(pids, pid)
			}
		}
		return len(pids) >= 2
	})
	return addr, pids
}

// TestBenchTool: `openfcs bench` against openfcs with players, shared-
// object users and RPC callers reports what each did and the server's CPU
// from /metrics; with --compare against Debian's nginx-rtmp it prints the
// CPU-per-delivered-byte ratio (nginx's CPU from /proc).
func TestBenchTool(t *testing.T) {
	// Built without -race: the CPU per byte compared with nginx-rtmp's is
	// then the figure an operator would see (the bench tool itself may
	// keep -race: its CPU is not counted).
	bin := noRaceBin(t)
	srv := startServer(t, serverOpts{Bin: bin, LogLevel: "info", Config: "listen:\n  exempt_loopback: true\n"})
	metrics := "http://" + srv.adminAddr + "/metrics"

	// Everything a scenario does, against openfcs alone, as JSON.
	p := startProc(t, procOpts{Env: []string{"OPENFCS_ADMIN_TOKEN=" + adminToken}}, openfcsBin, "bench",
		"--url", "rtmp://"+srv.rtmpAddr+"/live", "--players", "10", "--so-users", "3", "--rpc", "3",
		"--warmup", "2s", "--duration", "4s", "--metrics", metrics, "--json")
	if err := p.wait(t, 60*time.Second); err != nil {
		t.Fatalf("bench: %v\n%s", err, p.stderr.String())
	}
	var out struct {
		Reports []struct {
			Players    int     `json:"players"`
			Mbps       float64 `json:"mbit_per_s"`
			MediaP50   float64 `json:"media_latency_p50_ms"`
			SOChanges  int64   `json:"so_changes"`
			RPCCalls   int64   `json:"rpc_calls"`
			CPUSeconds float64 `json:"cpu_seconds"`
			CPUPerGbit float64 `json:"cpu_seconds_per_gbit"`
			Errors     []string
		}
	}
	if err := json.Unmarshal([]byte(p.stdout.String()), &out); err != nil || len(out.Reports) != 1 {
		t.Fatalf("bench output %q: %v", p.stdout.String(), err)
	}
	r := out.Reports[0]
	if r.Players != 10 || r.Mbps < 5 || r.MediaP50 <= 0 || r.SOChanges < 10 || r.RPCCalls < 20 || r.CPUSeconds <= 0 || r.CPUPerGbit <= 0 {
		t.Errorf("openfcs report: %s", p.stdout.String())
	}

	// The same media scenario against nginx-rtmp in the same run.
	nginx, pids := startNginxRTMPProc(t)
	var pidList []string
	for _, pid := range pids {
		pidList = append(pidList, strconv.Itoa(pid))
	}
	// 100 players for 6 s: each server spends a few tenths of a CPU
	// second, well above the 10 ms tick its CPU time is counted in. The
	// tool runs without -race too, so that it keeps up with them.
	p = startProc(t, procOpts{Env: []string{"OPENFCS_ADMIN_TOKEN=" + adminToken}}, bin, "bench",
		"--url", "rtmp://"+srv.rtmpAddr+"/live", "--metrics", metrics, "--players", "100", "--warmup", "2s", "--duration", "6s",
		"--compare", "rtmp://"+nginx+"/live", "--compare-pid", strings.Join(pidList, ","))
	if err := p.wait(t, 90*time.Second); err != nil {
		t.Fatalf("bench --compare: %v\n%s", err, p.stderr.String())
	}
	text := p.stdout.String()
	m := regexp.MustCompile(`CPU per delivered byte, rtmp://\S+ / rtmp://\S+: ([0-9.]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no CPU-per-byte ratio in:\n%s", text)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); v <= 0 {
		t.Errorf("ratio %s", m[1])
	}
	// The same load on both, or the ratio compares different things.
	if !regexp.MustCompile(`players\s+100/100 \(0 dropped\)\s+100/100 \(0 dropped\)`).MatchString(text) {
		t.Errorf("not every player played on both servers:\n%s", text)
	}
	t.Logf("openfcs bench --compare nginx-rtmp (without -race, 100 players, 6 s):\n%s", text)
}
