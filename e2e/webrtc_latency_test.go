//go:build e2e

package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/rtmp"
)

// flipDetector, run in whep.html, records when the <video> presents a
// frame that turned bright after dark ones: the wall-clock time (ms since
// the epoch) at which Chromium expects it on screen.
const flipDetector = `window.flips = [];
const v = document.querySelector('video');
const c = new OffscreenCanvas(16, 12);
const g = c.getContext('2d', { willReadFrequently: true });
let dark = false;
const cb = (now, meta) => {
  g.drawImage(v, 0, 0, 16, 12);
  const px = g.getImageData(0, 0, 16, 12).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += px[i] + px[i + 1] + px[i + 2];
  const luma = sum / (3 * 16 * 12);
  if (luma < 60) dark = true;
  if (dark && luma > 180) { dark = false; window.flips.push(performance.timeOrigin + meta.expectedDisplayTime); }
  v.requestVideoFrameCallback(cb);
};
v.requestVideoFrameCallback(cb);
return true;`

// BenchmarkWebRTCPublishToPresent measures publish-to-present latency
// from RTMP to WebRTC in the page: a Go RTMP client publishes, in real
// time, H.264 (x264 zerolatency, no B-frames) of a picture that is dark
// for half of every second and bright for the other half, and AAC (which
// the server converts to Opus); whep.html in Chromium plays it over
// WebRTC, and a requestVideoFrameCallback notes when each bright frame
// is expected on screen. present-ms is the mean time from writing the
// first bright frame into the RTMP connection to that moment; one
// iteration is one transition (one second). Everything runs on this
// machine, so both times come from one clock.
func BenchmarkWebRTCPublishToPresent(b *testing.B) {
	srv := startServer(b, serverOpts{})
	src := vcEncode(b, "nullsrc=s=320x240:r=25,geq=lum='if(lt(mod(T\\,1)\\,0.5)\\,16\\,235)':cb=128:cr=128", 10)
	tags := vcMediaTags(b, src)
	period := vcLastTS(tags) + 40
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := rtmp.Dial(ctx, srv.RTMPURL("live", ""), rtmp.ClientConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := c.CreateStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Publish(ctx, "lat", "live"); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var sends []int64 // ms since the epoch of each first bright frame written
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		for loop := uint32(0); ctx.Err() == nil; loop++ {
			for _, tag := range tags {
				ts := loop*period + tag.Time
				if d := time.Duration(ts)*time.Millisecond - time.Since(start); d > 0 {
					time.Sleep(d)
				}
				if tag.Type == flv.TagVideo && flv.IsVideoSequenceHeader(tag.Payload) && loop > 0 {
					continue
				}
				if err := s.WritePacket(media.Packet{Kind: media.Kind(tag.Type), Time: ts, Payload: tag.Payload}); err != nil {
					return
				}
				// The first frame at or after half a second is bright.
				if tag.Type == flv.TagVideo && tag.Time%1000 >= 500 && tag.Time%1000 < 540 {
					mu.Lock()
					sends = append(sends, time.Now().UnixMilli())
					mu.Unlock()
				}
				if ctx.Err() != nil {
					return
				}
			}
		}
	})
	defer wg.Wait()
	defer cancel()

	br := startBrowser(b)
	br.open(b, "p", srv.pageURL("/whep.html?autoplay=1&path=live/lat"))
	br.wait(b, "p", "const s = window.openfcsWebRTC.last; return s && s.mode === 'webrtc' && s.framesDecoded > 25", time.Minute)
	var ok bool
	br.eval(b, "p", flipDetector, &ok)
	var flips []float64
	want := 0
	var lats []float64
	for b.Loop() {
		want++
		deadline := time.Now().Add(30 * time.Second)
		for len(flips) < want && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			br.eval(b, "p", "return window.flips", &flips)
		}
		if len(flips) < want {
			b.Fatalf("%d bright frames presented, want %d", len(flips), want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range flips {
		// The latest bright frame written before the page showed one.
		i, _ := slices.BinarySearch(sends, int64(f))
		if i == 0 {
			continue
		}
		lats = append(lats, f-float64(sends[i-1]))
	}
	if len(lats) == 0 {
		b.Fatal("no transition measured")
	}
	slices.Sort(lats)
	var sum float64
	for _, l := range lats {
		sum += l
	}
	b.ReportMetric(sum/float64(len(lats)), "present-ms")
	b.ReportMetric(lats[len(lats)/2], "p50-ms")
	b.ReportMetric(lats[len(lats)-1], "max-ms")
}
