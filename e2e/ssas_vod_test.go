//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
)

// Application scripts on recorded streams: a script
// records the live streams ffmpeg publishes with Stream.record (asked for
// in onPublish), then plays both recordings as a server-side playlist into
// a live stream that rtmpdump plays to its end.
func TestSSASRecordAndPlaylist(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"live", "tv"}})
	srv.writeApp(t, "tv", map[string]string{"main.asc": `
application.onPublish = function (client, stream) {
    stream.onStatus = function (info) { trace(stream.name + " " + info.code); };
    stream.record("record");
};
Client.prototype.lengthOf = function (name) { return Stream.length(name); };
Client.prototype.startTV = function (a, b) {
    var tv = Stream.get("tv");
    tv.onStatus = function (info) { trace("tv " + info.code + " " + info.details); };
    return tv.play(a, 0, -1, true) && tv.play(b, 0, -1, false);
};
`})
	base := "rtmp://" + srv.rtmpAddr + "/tv/"
	const clip = 4 * time.Second
	// A global header gives the recordings a real AVC sequence header (the
	// tee muxer otherwise writes an empty one, which rtmpdump drops).
	codecs := codecArgs{Video: append(slices.Clone(h264GOP1s), "-flags:v", "+global_header"), Audio: aacAudio}
	pubs := []*publisher{startPublisher(t, base+"clip1", codecs, clip), startPublisher(t, base+"clip2", codecs, clip)}
	for i, p := range pubs {
		p.finish(t, 30*time.Second)
		srv.waitTrace(t, "clip"+string(rune('1'+i))+" NetStream.Record.Stop")
	}
	streams := filepath.Join(srv.appsDir(t), "tv", "streams", "_definst_")
	var published int
	for i, p := range pubs {
		rec := filepath.Join(streams, "clip"+string(rune('1'+i))+".flv")
		if d := ffprobeDuration(t, rec); d < clip.Seconds()-0.5 || d > clip.Seconds()+0.5 {
			t.Errorf("%s lasts %.2f s, want about %v", filepath.Base(rec), d, clip)
		}
		pm, rm := probe(t, p.copyPath), probe(t, rec)
		checkReceived(t, "recording "+filepath.Base(rec), rm, pm, "h264", "aac")
		published += pm.frames("video")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := srv.dialApp(t, ctx, "tv")
	for _, name := range []string{"clip1", "clip2"} {
		v, err := c.Call(ctx, "lengthOf", amf.String(name))
		if err != nil || len(v) == 0 || v[0].Num() < clip.Seconds()-0.5 || v[0].Num() > clip.Seconds()+0.5 {
			t.Errorf("Stream.length(%s) = %v %v, want about %v s", name, v, err, clip.Seconds())
		}
	}

	pl := startRtmpdumpPlayer(t, base+"tv")
	waitPlaying(t, srv, "tv", 1)
	start := time.Now()
	if v, err := c.Call(ctx, "startTV", amf.String("clip1"), amf.String("clip2")); err != nil || len(v) == 0 || !v[0].Bool() {
		t.Fatalf("startTV = %v %v", v, err)
	}
	// The playlist's end unpublishes tv; librtmp ends on UnpublishNotify.
	select {
	case <-pl.done:
	case <-time.After(4*clip + 10*time.Second):
		t.Error("rtmpdump did not end with the playlist")
		pl.interrupt(t, 10*time.Second)
	}
	if el := time.Since(start); el < 2*clip-time.Second {
		t.Errorf("the playlist of 2 × %v played in %v: not real time", clip, el)
	}
	srv.waitTrace(t, "tv NetStream.Play.Stop tv")
	var got []string
	for _, tr := range srv.traces() {
		if strings.HasPrefix(tr, "tv ") {
			got = append(got, tr)
		}
	}
	want := []string{
		"tv NetStream.Play.Reset clip1", "tv NetStream.Play.Start clip1",
		"tv NetStream.Play.Switch clip2", "tv NetStream.Play.Start clip2",
		"tv NetStream.Play.Stop tv",
	}
	if !slices.Equal(got, want) {
		t.Errorf("tv statuses %q, want %q", got, want)
	}

	// Each item brings its onMetaData (as FMS playlists do); ffprobe 5.1
	// -count_frames crashes on a mid-stream onMetaData, so packets are
	// counted and the file decoded without it.
	mi := probePackets(t, pl.out)
	if mi.decodeErrors != "" {
		t.Errorf("rtmpdump's copy of the playlist: decoder errors:\n%s", mi.decodeErrors)
	}
	checkMonotonic(t, mi, "video")
	checkMonotonic(t, mi, "audio")
	v := len(mi.packetsOf("video"))
	t.Logf("playlist: rtmpdump received %d video packets of %d recorded frames, %d audio packets", v, published, len(mi.packetsOf("audio")))
	if float64(v) < 0.9*float64(published) {
		t.Errorf("rtmpdump received %d video frames, want >= 90%% of the %d of both recordings", v, published)
	}
	if d := ffprobeDuration(t, pl.out); d < 2*clip.Seconds()-1 {
		t.Errorf("rtmpdump's copy lasts %.2f s, want about %v", d, 2*clip)
	}
}
