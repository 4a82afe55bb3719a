package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrHeld: another node holds the lease.
var ErrHeld = errors.New("cluster: lease held by another node")

// Lease is a key of a key-value bucket that this node holds: created only
// if absent, kept alive by updates at the revision it last wrote, gone
// when the holder stops renewing for the bucket's TTL (docs/cluster.md#leases).
type Lease struct {
	n   *Node
	kv  jetstream.KeyValue
	key string

	mu   sync.Mutex
	rev  uint64
	lost chan struct{} // closed when the lease is lost
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// Acquire takes the lease on key of kv for this node, or fails with
// ErrHeld. The lease renews itself until Release; Lost is closed if it
// cannot.
func (n *Node) Acquire(ctx context.Context, kv jetstream.KeyValue, key string) (*Lease, error) {
	sent := time.Now()
	rev, err := kv.Create(ctx, key, []byte(n.tag))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, ErrHeld
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: lease %s: %w", key, err)
	}
	l := &Lease{n: n, kv: kv, key: key, rev: rev, lost: make(chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew(sent)
	return l, nil
}

// acquireWait retries Acquire while another holder keeps the lease, until
// ctx ends: a node restarting after a crash waits for its old lease to
// expire.
func (n *Node) acquireWait(ctx context.Context, kv jetstream.KeyValue, key string) (*Lease, error) {
	logged := false
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		l, err := n.Acquire(actx, kv, key)
		cancel()
		if err == nil {
			return l, nil
		}
		if errors.Is(err, ErrHeld) && !logged {
			n.log.Warn("cluster lease held, waiting for it to expire", "key", key, "lease_ttl", n.cfg.LeaseTTL)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Lost is closed when the lease is lost: an update found another holder,
// or no renewal succeeded for the TTL (this node is cut off from the
// JetStream majority, which then lets the key expire).
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// renew updates the key every third of the TTL. A holder that has not
// renewed for the TTL less its fence margin (fenceMargin) gives the lease
// up, so that what it protects stops before the key can expire. The TTL
// counts from when the last successful update was sent, not from when its
// answer came: the bucket's clock started no earlier (docs/cluster.md#partitions).
func (l *Lease) renew(lastSent time.Time) {
	defer close(l.done)
	ttl := l.n.cfg.LeaseTTL
	giveUp := ttl - fenceMargin(ttl)
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	fence := time.NewTimer(time.Until(lastSent.Add(giveUp)))
	defer fence.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-fence.C:
			l.markLost(fmt.Sprintf("not renewed for %v (lease TTL %v less its fence margin)", giveUp, ttl))
			return
		case <-t.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), lastSent.Add(giveUp))
		l.mu.Lock()
		rev := l.rev
		l.mu.Unlock()
		nrev, err := l.kv.Update(ctx, l.key, []byte(l.n.tag), rev)
		cancel()
		switch {
		case err == nil:
			l.mu.Lock()
			l.rev = nrev
			l.mu.Unlock()
			lastSent = sent
			fence.Reset(time.Until(lastSent.Add(giveUp)))
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists),
			errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			l.markLost("taken by another holder: " + err.Error())
			return
		default:
			l.n.log.Debug("cluster lease renewal failed", "key", l.key, "err", err)
		}
	}
}

// fenceMargin is how long before a lease can expire in the bucket its
// holder gives it up when it cannot renew: a quarter of the TTL (2.5 s at
// the default 10 s), in which the holder stops what the lease protects
// (an instance's clients are closed and its script stopped), so that
// no other node starts it while it still runs here.
func fenceMargin(ttl time.Duration) time.Duration { return ttl / 4 }

func (l *Lease) markLost(why string) {
	l.once.Do(func() {
		l.n.log.Warn("cluster lease lost", "key", l.key, "reason", why)
		close(l.lost)
	})
}

// Release stops renewing and deletes the key if it is still ours, so that
// another node may take it at once. Safe to call twice.
func (l *Lease) Release() {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	<-l.done
	select {
	case <-l.lost:
		return
	default:
	}
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev))
}
