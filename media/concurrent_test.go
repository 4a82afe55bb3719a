package media

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrent churns publishers, subscribers, receive flags and closes on
// a few names at once under -race, then closes the registry mid-flight. Each
// subscriber checks the order it sees: packets only inside a publish
// session, and strictly increasing media timestamps within one.
func TestConcurrent(t *testing.T) {
	r := NewRegistry(Config{QueuePackets: 64, GOPCacheMaxPackets: 40}, nil)
	names := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 64)

	// The registry closes once events flow, while everything is busy.
	var delivered atomic.Int64
	flowing := make(chan struct{})
	var once sync.Once
	count := func(n int) {
		if delivered.Add(int64(n)) >= 5000 {
			once.Do(func() { close(flowing) })
		}
	}
	for i := range 4 {
		wg.Go(func() {
			for round := 0; ; round++ {
				p, err := r.Publish(names[(i+round)%len(names)])
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					continue // ErrBusy: another publisher holds it
				}
				p.Write(avcSeq(0))
				p.SetMetadata(meta())
				for n := range 100 {
					ts := uint32(1 + n*10)
					if n%10 == 0 {
						p.Write(key(ts, 64))
					} else {
						p.Write(inter(ts, 64))
					}
					p.Write(aac(ts+1, 16))
				}
				if round%3 == 0 {
					p.ClearMetadata()
				}
				_ = p.Stats()
				p.Close()
			}
		})
	}
	for i := range 12 {
		wg.Go(func() {
			for round := 0; ; round++ {
				select {
				case <-stop:
					return
				default:
				}
				s := r.Subscribe(names[(i+round)%len(names)], SubscribeOptions{NoAudio: i%4 == 1})
				if err := consume(s, i, round, stop); err != nil {
					errc <- err
				}
				count(int(s.Stats().Delivered))
				s.Close()
				if errors.Is(s.Err(), ErrClosed) {
					return
				}
			}
		})
	}
	<-flowing
	r.Close()
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if r.Len() != 0 {
		t.Errorf("Len after Close = %d", r.Len())
	}
	t.Logf("%d events delivered", delivered.Load())
}

// consume reads one subscriber for a while the way a connection's writer
// goroutine does, checking ordering invariants.
func consume(s *Subscriber, i, round int, stop <-chan struct{}) error {
	buf := make([]Event, 0, 128)
	inSession := false
	var last uint32
	for n := range 50 {
		select {
		case <-s.Ready():
		case <-stop:
			return nil
		}
		if n%7 == 3 {
			s.SetReceiveVideo(n%2 == 0)
		}
		buf = s.Drain(buf[:0])
		for _, ev := range buf {
			switch ev.Type {
			case EventPublishNotify:
				inSession, last = true, 0
			case EventUnpublishNotify:
				inSession = false
			case EventPacket:
				pkt := ev.Packet
				if !inSession {
					return fmt.Errorf("sub %d/%d: %s outside a publish session", i, round, describe([]Event{ev}))
				}
				if pkt.Config || pkt.Kind == Data {
					continue
				}
				if pkt.Time <= last {
					return fmt.Errorf("sub %d/%d: time %d after %d", i, round, pkt.Time, last)
				}
				last = pkt.Time
			}
		}
		if s.Err() != nil {
			return nil
		}
	}
	return nil
}
