//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/tlsutil"
)

// tunnelServer is an openfcs process with its TLS port on: RTMP and RTMPT
// on the rtmp and http ports (one-port sniffing), RTMPS and RTMPTS on the
// TLS port, HTTP/3 on the TLS port's UDP twin.
type tunnelServer struct {
	*server
	tlsAddr string
	h3Addr  string
}

// startTunnelServer writes a self-signed certificate and starts openfcs
// with the TLS listener and the extra YAML config (which must not set
// `tls`).
func startTunnelServer(t testing.TB, extraConfig string) *tunnelServer {
	t.Helper()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := tlsutil.WriteSelfSigned(cert, key, "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("tls:\n  addr: 127.0.0.1:0\n  cert_file: %s\n  key_file: %s\n%s", cert, key, extraConfig)
	s := &tunnelServer{server: startServer(t, serverOpts{Config: cfg})}
	waitFor(t, 10*time.Second, "the rtmps and http3 listening lines", func() bool {
		for _, l := range s.Logs() {
			if l["msg"] != "listening" {
				continue
			}
			addr, _ := l["addr"].(string)
			switch l["proto"] {
			case "rtmps":
				s.tlsAddr = addr
			case "http3":
				s.h3Addr = addr
			}
		}
		return s.tlsAddr != "" && s.h3Addr != "" && s.httpAddr != ""
	})
	return s
}

// url is scheme://addr/app/stream.
func tunnelURL(scheme, addr, app, stream string) string {
	return scheme + "://" + addr + "/" + app + "/" + stream
}

// startFFmpegPlayerOpts is startFFmpegPlayer with input options (such as
// -tls_verify 0) and a name for the output file.
func startFFmpegPlayerOpts(t testing.TB, name, url string, inputOpts ...string) *player {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".flv")
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"}
	args = append(args, inputOpts...)
	args = append(args, "-i", url, "-map", "0", "-c", "copy", "-copyinkf", "-flush_packets", "1", "-f", "flv", out)
	p := startProc(t, procOpts{}, "ffmpeg", args...)
	return &player{proc: p, out: out}
}

// liveOver runs one live scenario: players wait on the stream, ffmpeg
// publishes H.264 + AAC to pubURL for the given time, every player must
// decode ≥ 90% of the published frames without decoder errors.
func liveOver(t *testing.T, srv *server, stream, pubURL string, players map[string]*player, d time.Duration) {
	t.Helper()
	waitPlaying(t, srv, stream, len(players))
	pub := startPublisher(t, pubURL, codecArgs{Video: h264NoB, Audio: aacAudio}, d)
	pub.finish(t, d+60*time.Second)
	for _, p := range players {
		p.end(t, 8*time.Second)
	}
	published := probe(t, pub.copyPath)
	t.Logf("published over %s: %d video, %d audio frames", scheme(pubURL), published.frames("video"), published.frames("audio"))
	for who, p := range players {
		checkReceived(t, who, probe(t, p.out), published, "h264", "aac")
	}
}

func scheme(url string) string {
	s, _, _ := strings.Cut(url, "://")
	return s
}

// protoLogged reports whether the server logged a connection (the
// `connect` line) with proto.
func protoLogged(srv *server, proto string) bool {
	return len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "connect" && l["proto"] == proto })) > 0
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment
// ago (for nginx, which cannot report a port 0 choice).
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// nginxConf is a reverse proxy in front of openfcs's HTTP port as an
// operator would write it for RTMPT: HTTP/1.1 to the upstream with
// keep-alive, no buffering either way, and a client keep-alive that
// outlasts a session (docs/rtmpt.md#server-design: route by the session id; one upstream
// here).
const nginxConf = `worker_processes 1;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
events { worker_connections 512; }
http {
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream openfcs {
		server %[2]s;
		keepalive 16;
	}
	server {
		listen 127.0.0.1:%[3]d;
		# librtmp keeps one connection for the whole session and does not
		# reconnect when nginx closes it after keepalive_requests (default
		# 1000; rtmpdump polls /idle back to back, ~1000 requests a second).
		keepalive_requests 10000000;
		keepalive_timeout 75s;
		location / {
			proxy_pass http://openfcs;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
			proxy_request_buffering off;
			client_max_body_size 8m;
		}
	}
}
`

// startNginx runs Debian's nginx as a child process proxying to upstream
// and returns its address once it accepts connections.
func startNginx(t testing.TB, upstream string) string {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		t.Fatalf("nginx is not installed: run scripts/deps.sh (make test does)")
	}
	return runNginx(t, "nginx", func(dir string, port int) string { return fmt.Sprintf(nginxConf, dir, upstream, port) })
}

// runNginx runs /usr/sbin/nginx in the foreground with the configuration
// conf makes for its temporary prefix directory and a free loopback port,
// and returns that port's address once it accepts connections; the
// error log is printed if the test fails. what names it in the messages.
func runNginx(t testing.TB, what string, conf func(dir string, port int) string) string {
	t.Helper()
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf(dir, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, procOpts{}, "/usr/sbin/nginx", "-p", dir, "-c", file, "-g", "daemon off;")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("%s error.log:\n%s", what, b)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, 10*time.Second, what+" to accept connections", func() bool {
		if p.exited() {
			t.Fatalf("%s exited: %v\n%s", what, p.err, p.stderr.String())
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr
}
