//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPrometheusScrapesMetrics: Debian's Prometheus scrapes the admin
// listener's /metrics with the bearer token while ffmpeg publishes and
// rtmpdump plays, and a PromQL query through its HTTP API returns the
// connection count (two RTMP connections); the metrics also count the
// published bytes and the player.
func TestPrometheusScrapesMetrics(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Fatal("prometheus missing: run scripts/deps.sh (Debian package prometheus)")
	}
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the publisher to start", func() bool { return pub.frames() >= 10 })
	play := startRtmpdumpPlayer(t, srv.RTMPURL("live", "cam"))
	waitFor(t, 30*time.Second, "rtmpdump to receive media", func() bool { return play.size() > 20000 })

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(adminToken), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: openfcs
    authorization:
      type: Bearer
      credentials_file: %s
    static_configs:
      - targets: ["%s"]
`, tokenFile, srv.adminAddr)
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	web := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	startProc(t, procOpts{}, "prometheus", "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web, "--log.level=warn")

	// query runs an instant PromQL query and returns the first sample's
	// value ("" when there is none yet or Prometheus is not up).
	query := func(q string) string {
		resp, err := http.Get("http://" + web + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				}
			}
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" || len(r.Data.Result) == 0 {
			return ""
		}
		v, _ := r.Data.Result[0].Value[1].(string)
		return v
	}
	var got string
	if !poll(60*time.Second, func() bool { got = query(`sum(openfcs_connections)`); return got == "2" }) {
		t.Fatalf("sum(openfcs_connections) = %q after 60 s, want 2; scrape target: %s", got, query(`up{job="openfcs"}`))
	}
	if v := query(`openfcs_connections{protocol="rtmp"}`); v != "2" {
		t.Errorf(`openfcs_connections{protocol="rtmp"} = %q, want 2`, v)
	}
	if v := query(`up{job="openfcs"}`); v != "1" {
		t.Errorf("up = %q, want 1", v)
	}
	for _, q := range []string{`openfcs_published_bytes_total > 0`, `openfcs_stream_subscribers >= 1`, `openfcs_streams == 1`,
		`openfcs_sent_bytes_total{protocol="rtmp"} > 0`} {
		if v := query(q); v == "" {
			t.Errorf("%s: no sample", q)
		}
	}
	play.interrupt(t, 10*time.Second)
	pub.stop(t)
}
