//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/status"
)

// Interoperability with a third-party RTMP server: the project's client
// and a server-side NetConnection of an application script must read
// what Debian's nginx-rtmp (libnginx-mod-rtmp) answers to connect, which
// is the FMS layout: properties object, then info object (docs/rtmp.md#connect).

const nginxRTMPModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// nginxRTMPConf runs nginx-rtmp alone: one application "live".
const nginxRTMPConf = `load_module %[2]s;
worker_processes 1;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
events { worker_connections 64; }
rtmp {
	server {
		listen 127.0.0.1:%[3]d;
		application live {
			live on;
		}
	}
}
`

// startNginxRTMP runs Debian's nginx with the RTMP module on a loopback
// port and returns its address once it accepts connections.
func startNginxRTMP(t testing.TB) string {
	t.Helper()
	for _, f := range []string{"/usr/sbin/nginx", nginxRTMPModule} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: run scripts/deps.sh (make test does): %v", f, err)
		}
	}
	return runNginx(t, "nginx-rtmp", func(dir string, port int) string {
		return fmt.Sprintf(nginxRTMPConf, dir, nginxRTMPModule, port)
	})
}

// The project's client connects to nginx-rtmp and reads
// NetConnection.Connect.Success from the info object, then creates a
// stream (whose _result keeps its null command object).
func TestNginxRTMPProjectClientConnects(t *testing.T) {
	t.Parallel()
	addr := startNginxRTMP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rtmp.NewClient(ctx, nc, rtmp.ClientConfig{})
	if err != nil {
		_ = nc.Close()
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Connect(ctx, "live", "rtmp://"+addr+"/live")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Get("code").Str(); got != status.ConnectSuccess {
		t.Fatalf("nginx-rtmp connect info code %q (info %v), want %s", got, info, status.ConnectSuccess)
	}
	if got := info.Get("level").Str(); got != status.LevelStatus {
		t.Errorf("level %q, want status", got)
	}
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatalf("createStream on nginx-rtmp: %v", err)
	}
	if s.ID == 0 {
		t.Errorf("nginx-rtmp gave stream id 0")
	}
}

// An application script's server-side NetConnection connects to
// nginx-rtmp; its onStatus receives the info object nginx sent
// (objectEncoding is there, which a locally made-up status lacks).
func TestNginxRTMPServerSideNetConnection(t *testing.T) {
	t.Parallel()
	nginx := startNginxRTMP(t)
	srv := startServer(t, serverOpts{
		Apps:   []string{"bridge"},
		Config: "ssas:\n  allow_hosts: [\"127.0.0.1\"]\n",
	})
	srv.writeApp(t, "bridge", map[string]string{"main.asc": `
application.onAppStart = function () {
	var nc = new NetConnection();
	nc.onStatus = function (info) {
		trace("nginx said " + info.code + " level=" + info.level + " objectEncoding=" + info.objectEncoding);
	};
	nc.connect("rtmp://` + nginx + `/live");
};
`})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.dialApp(t, ctx, "bridge") // loads the instance: onAppStart runs
	srv.waitTrace(t, "nginx said NetConnection.Connect.Success level=status objectEncoding=0")
}

// FMS 3.5 and CDN servers called onBWDone right after connect; ffmpeg and
// librtmp answer it with _checkbw, which the server answers with its
// native bandwidth check (docs/rtmp.md#bandwidth-check): librtmp answers the _onbwcheck
// rounds and gets _onbwdone, ffmpeg ignores them. Both keep playing.
func TestBandwidthCheckWithRtmpdumpAndFFmpeg(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"bw"}})
	srv.writeApp(t, "bw", map[string]string{"main.asc": `
application.onConnect = function (client) {
	application.acceptConnection(client);
	client.call("onBWDone");
};
`})
	players := map[string]*player{
		"rtmpdump": startRtmpdumpPlayer(t, srv.RTMPURL("bw", "s")),
		"ffmpeg":   startFFmpegPlayer(t, srv.RTMPURL("bw", "s")),
	}
	liveOver(t, srv, "s", srv.RTMPURL("bw", "s"), players, publishTime)
	checks := srv.findLogs(func(l map[string]any) bool {
		r, _ := l["rounds"].(float64)
		return l["msg"] == "bandwidth check" && r >= 1
	})
	if len(checks) == 0 {
		t.Fatal("no bandwidth check reported: librtmp did not answer _onbwcheck")
	}
	t.Logf("librtmp's check: %v kbit/s, latency %v ms", checks[0]["kbit_down"], checks[0]["latency_ms"])
}
