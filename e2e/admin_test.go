//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fmsResult is an FMS command's answer.
type fmsResult struct {
	Level, Code, Description string
	Data                     json.RawMessage
}

func (s *server) fms(t testing.TB, cmd, query string) fmsResult {
	t.Helper()
	code, b := s.adminGet(t, "/admin/"+cmd+"?"+query)
	var r fmsResult
	if err := json.Unmarshal(b, &r); err != nil || code != http.StatusOK || r.Code != "NetConnection.Call.Success" {
		t.Fatalf("%s?%s: %d %s", cmd, query, code, b)
	}
	return r
}

// TestAdminAPIWithRealClients: ffmpeg publishes H.264 and AAC, rtmpdump
// plays; the admin API shows the stream's codecs, resolution, bitrate,
// publisher and player, the clients' protocol, address, agent and bytes;
// disconnectUsers closes rtmpdump. The old unauthenticated routes are gone
// from the public port and the admin routes want the token.
func TestAdminAPIWithRealClients(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the publisher to start", func() bool { return pub.frames() >= 10 })
	play := startRtmpdumpPlayer(t, srv.RTMPURL("live", "cam"))
	waitFor(t, 30*time.Second, "rtmpdump to receive media", func() bool { return play.size() > 50000 })

	// getLiveStreamStats, twice a second apart for a measured bitrate.
	var st struct {
		VideoCodec string  `json:"video_codec"`
		AudioCodec string  `json:"audio_codec"`
		Width      float64 `json:"width"`
		Height     float64 `json:"height"`
		BitrateIn  float64 `json:"bitrate_in"`
		BitrateOut float64 `json:"bitrate_out"`
		Publisher  struct {
			Client   uint64 `json:"client"`
			Protocol string `json:"client_type"`
		} `json:"publisher"`
		Subscribers []struct {
			Client uint64 `json:"client"`
		} `json:"subscribers"`
	}
	srv.fms(t, "getLiveStreamStats", "appInst=live/_definst_&stream=cam")
	time.Sleep(1500 * time.Millisecond) // two samples at least a second apart make a rate; not a timing assertion
	r := srv.fms(t, "getLiveStreamStats", "appInst=live/_definst_&stream=cam")
	if err := json.Unmarshal(r.Data, &st); err != nil {
		t.Fatal(err)
	}
	if st.VideoCodec != "h264" || st.AudioCodec != "aac" || st.Width != 320 || st.Height != 240 {
		t.Errorf("stream: %s", r.Data)
	}
	// 300k video + 64k audio, give or take the encoder.
	if st.BitrateIn < 50e3 || st.BitrateIn > 5e6 || st.BitrateOut <= 0 {
		t.Errorf("bitrates in %.0f out %.0f bit/s: %s", st.BitrateIn, st.BitrateOut, r.Data)
	}
	if st.Publisher.Client == 0 || st.Publisher.Protocol != "rtmp" || len(st.Subscribers) != 1 || st.Subscribers[0].Client == 0 {
		t.Fatalf("publisher and players: %s", r.Data)
	}
	playerID := strconv.FormatUint(st.Subscribers[0].Client, 10)

	// getUsers lists both; getUserStats describes rtmpdump.
	r = srv.fms(t, "getUsers", "appInst=live")
	if !strings.Contains(string(r.Data), playerID) || !strings.Contains(string(r.Data), strconv.FormatUint(st.Publisher.Client, 10)) {
		t.Errorf("getUsers: %s", r.Data)
	}
	var us struct {
		Protocol string   `json:"protocol"`
		IP       string   `json:"ip"`
		Agent    string   `json:"agent"`
		BytesOut uint64   `json:"bytes_out"`
		BytesIn  uint64   `json:"bytes_in"`
		Playing  []string `json:"playing"`
	}
	r = srv.fms(t, "getUserStats", "appInst=live/_definst_&userId="+playerID)
	if err := json.Unmarshal(r.Data, &us); err != nil {
		t.Fatal(err)
	}
	if us.Protocol != "rtmp" || us.IP != "127.0.0.1" || us.Agent == "" || us.BytesOut < 50000 || us.BytesIn == 0 ||
		len(us.Playing) != 1 || us.Playing[0] != "cam" {
		t.Errorf("getUserStats: %s", r.Data)
	}
	// The ping getUserStats sent comes back: ping_rtt is a number
	// (loopback rounds it to 0 ms), present in the answer.
	r = srv.fms(t, "getUserStats", "appInst=live/_definst_&userId="+playerID)
	if !strings.Contains(string(r.Data), `"ping_rtt"`) {
		t.Errorf("no ping_rtt: %s", r.Data)
	}

	// The server view counts them.
	var ss struct {
		Connected int `json:"connected"`
		Streams   int `json:"streams"`
		Protocols map[string]struct {
			Connected int `json:"connected"`
		} `json:"protocols"`
	}
	srv.adminJSON(t, "/admin/api/v1/server", &ss)
	if ss.Connected != 2 || ss.Streams != 1 || ss.Protocols["rtmp"].Connected != 2 {
		t.Errorf("server: %+v", ss)
	}

	// Refused without the token or with a wrong one; the old routes are
	// gone from the public port.
	for _, auth := range []string{"", "Bearer wrong"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.adminAddr+"/admin/getServerStats", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("auth %q: %d", auth, resp.StatusCode)
		}
	}
	for _, p := range []string{"/api/instances", "/api/stats"} {
		resp, err := http.Get("http://" + srv.httpAddr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", p, resp.StatusCode)
		}
	}

	// disconnectUsers closes rtmpdump's connection; the publisher stays.
	srv.fms(t, "disconnectUsers", "appInst=live/_definst_&userId="+playerID)
	select {
	case <-play.done:
	case <-time.After(20 * time.Second):
		t.Fatal("rtmpdump still runs 20 s after disconnectUsers")
	}
	if pub.exited() {
		t.Error("the publisher went away with the player")
	}
	pub.stop(t)
}
