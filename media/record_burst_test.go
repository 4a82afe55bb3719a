package media

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfcs/openfcs/media/flv"
)

// A publisher sending far faster than real time (the upload of a file)
// loses nothing in the recording: the recorder is not a live subscriber
// that drops video when behind; the publisher waits for it instead. A
// live subscriber of the same stream still drops.
func TestRecordBurstKeepsEveryFrame(t *testing.T) {
	const frames = 500
	reg := NewRegistry(Config{QueuePackets: 16, QueueBytes: 64 << 10, RecordQueueBytes: 64 << 10}, nil)
	defer reg.Close()
	pub, err := reg.Publish("burst")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "burst.flv")
	rec, err := pub.Record(path, RecordOptions{SyncBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	live := reg.Subscribe("burst", SubscribeOptions{}) // never drained
	defer live.Close()
	pub.Write(avcSeq(0))
	for i := range frames {
		if i%25 == 0 {
			pub.Write(key(uint32(i*40), 8000))
		} else {
			pub.Write(inter(uint32(i*40), 8000))
		}
	}
	pub.Close()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tag := range recordedTags(t, path) {
		if tag.Type == flv.TagVideo && len(tag.Payload) == 8000 {
			n++
		}
	}
	if n != frames {
		t.Fatalf("recorded %d of %d frames", n, frames)
	}
	if live.Stats().Dropped == 0 && live.Err() == nil {
		t.Fatal("the undrained live subscriber neither dropped nor was cut off")
	}
}

// A recorder that cannot keep up for SlowConsumerAfter is cut off (the
// recording fails with a status) rather than holding the publisher.
func TestRecordStalledRecorderIsCutOff(t *testing.T) {
	reg := NewRegistry(Config{QueuePackets: 8, QueueBytes: 64 << 10, RecordQueueBytes: 64 << 10, SlowConsumerAfter: 200 * time.Millisecond}, nil)
	defer reg.Close()
	pub, err := reg.Publish("s")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub := reg.Subscribe("s", SubscribeOptions{Lossless: true}) // never drained: a stuck disk
	defer sub.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pub.Write(key(0, 1000))
		for i := 1; i < 200; i++ { // 200 KB, past RecordQueueBytes
			pub.Write(inter(uint32(i*40), 1000))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the publisher stayed blocked on a stuck lossless subscriber")
	}
	if sub.Err() == nil {
		t.Fatal("the stuck lossless subscriber was not cut off")
	}
}

// The recording file always ends on a tag boundary: tags are written
// whole, so a process killed at any moment leaves a file every tag of
// which is complete. The test looks at the file while it grows.
func TestRecordWritesWholeTags(t *testing.T) {
	reg := NewRegistry(Config{}, nil)
	defer reg.Close()
	pub, err := reg.Publish("s")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.flv")
	rec, err := pub.Record(path, RecordOptions{SyncBytes: 1 << 30, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	looked := make(chan int)
	go func() {
		n := 0
		defer func() { looked <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			if len(b) > flv.HeaderSize+flv.PrevSizeLen {
				n++
				// A look during one write(2) sees the file grown up to a
				// page boundary (the kernel copies the write in page by
				// page); a tag split between two writes shows at any
				// length.
				if !flv.TailOK(bytes.NewReader(b), int64(len(b))) && len(b)%os.Getpagesize() != 0 {
					t.Errorf("the file ends inside a tag at %d bytes", len(b))
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	pub.Write(avcSeq(0))
	for i := range 400 {
		if i%25 == 0 {
			pub.Write(key(uint32(i*40), 10_007))
		} else {
			pub.Write(inter(uint32(i*40), 3_001))
		}
		if i%20 == 0 {
			time.Sleep(2 * time.Millisecond) // let the file be looked at mid-way
		}
	}
	close(stop)
	if n := <-looked; n == 0 {
		t.Error("the file was never seen with tags in it")
	}
	pub.Close()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

// A recording charges its bytes to the quota: one that fills it ends with
// ErrQuota (OnFail tells the publisher) and the file stays within it; the
// next one is refused; replacing a file gives its bytes back.
func TestRecordQuota(t *testing.T) {
	dir := t.TempDir()
	q := NewQuota("test", -1, 400_000, func() []string { return []string{dir} })
	reg := NewRegistry(Config{}, nil)
	defer reg.Close()
	pub, err := reg.Publish("s")
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	path := filepath.Join(dir, "s.flv")
	rec, err := pub.Record(path, RecordOptions{Quota: q, OnFail: func(err error) { failed <- err }})
	if err != nil {
		t.Fatal(err)
	}
	pub.Write(key(0, 5000))
	for i := 1; i < 100; i++ { // 500 KB
		pub.Write(inter(uint32(i*40), 5000))
	}
	select {
	case err := <-failed:
		if !errors.Is(err, ErrQuota) || !errors.Is(err, ErrRecordFailed) {
			t.Fatalf("OnFail(%v), want ErrQuota", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the recording did not end at the quota")
	}
	<-rec.Done()
	if err := rec.Close(); !errors.Is(err, ErrQuota) {
		t.Fatalf("Close = %v, want ErrQuota", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, used := q.Usage(); fi.Size() > 400_000 || used != fi.Size() {
		t.Fatalf("file %d bytes, quota counts %d (limit 400000)", fi.Size(), used)
	}
	if len(recordedTags(t, path)) == 0 {
		t.Fatal("the file kept nothing")
	}
	pub2, err := reg.Publish("t")
	if err != nil {
		t.Fatal(err)
	}
	defer pub2.Close()
	if _, err := pub2.Record(filepath.Join(dir, "t.flv"), RecordOptions{Quota: q}); !errors.Is(err, ErrQuota) {
		t.Fatalf("recording into a full quota: %v", err)
	}
	// Replacing s.flv frees what it held.
	rec, err = pub2.Record(path, RecordOptions{Quota: q})
	if err != nil {
		t.Fatalf("replacing a file in a full quota: %v", err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if _, used := q.Usage(); used > 1000 {
		t.Fatalf("after replacing the file the quota counts %d bytes", used)
	}
}

// A quota counts what is already on disk, once, when first used.
func TestQuotaCountsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "skip"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a/x", "a/y", "a/skip/z"} {
		if err := os.WriteFile(filepath.Join(dir, p), make([]byte, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	q := NewQuota("test", 3, 2500, func() []string { return []string{filepath.Join(dir, "a")} }, filepath.Join(dir, "a", "skip"))
	if files, bytes := q.Usage(); files != 2 || bytes != 2000 {
		t.Fatalf("usage %d files %d bytes, want 2 and 2000", files, bytes)
	}
	if err := q.Reserve(1, 600); !errors.Is(err, ErrQuota) {
		t.Fatalf("past the bytes: %v", err)
	}
	if err := q.Reserve(1, 500); err != nil {
		t.Fatal(err)
	}
	if err := q.Reserve(1, 0); !errors.Is(err, ErrQuota) {
		t.Fatalf("past the files: %v", err)
	}
	if q.Room(false, 1, 0) || !q.Room(false, 1, 1) {
		t.Fatal("Room: a full quota has room, or freeing a byte makes none")
	}
}
