package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openfcs/openfcs/instance"
)

// One instance, one owner (docs/cluster.md#one-instance-one-owner): the
// node that runs an instance holds its lease in the leases bucket. Own is
// what the engine asks before it loads an instance (instance.Owner).

// instanceKey is the leases-bucket key of an instance: names may hold
// characters a key may not, so they are encoded.
func instanceKey(app, inst string) string {
	return "i." + base64.RawURLEncoding.EncodeToString([]byte(app+"\x00"+inst))
}

// ownTimeout bounds finding or taking an instance's lease for one connect.
const ownTimeout = 5 * time.Second

// holdSet counts this node's uses of each instance lease it holds: two
// connects racing to load one instance share the lease, and it is released
// when the last use ends.
type holdSet struct {
	mu sync.Mutex
	m  map[string]*held
}

type held struct {
	lease *Lease
	refs  int
}

// holdRef is one use of a held lease (instance.Hold).
type holdRef struct {
	n    *Node
	key  string
	h    *held
	once sync.Once
}

func (r *holdRef) Lost() <-chan struct{} { return r.h.lease.Lost() }

func (r *holdRef) Release() {
	r.once.Do(func() {
		s := &r.n.holds
		s.mu.Lock()
		r.h.refs--
		last := r.h.refs == 0
		if last && s.m[r.key] == r.h {
			delete(s.m, r.key)
		}
		s.mu.Unlock()
		if last {
			r.h.lease.Release()
		}
	})
}

// ref returns a new use of the live lease on key, if this node holds one.
func (n *Node) ref(key string) *holdRef {
	s := &n.holds
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m[key]
	if h == nil {
		return nil
	}
	select {
	case <-h.lease.Lost():
		return nil
	default:
	}
	h.refs++
	return &holdRef{n: n, key: key, h: h}
}

// Own implements instance.Owner for the instances that need one owner: a
// Hold when this node runs app/inst (taking its lease if free), an
// *instance.ElsewhereError naming the node that does.
func (n *Node) Own(app, inst string) (instance.Hold, error) {
	key := instanceKey(app, inst)
	ctx, cancel := context.WithTimeout(n.ctx, ownTimeout)
	defer cancel()
	for {
		if r := n.ref(key); r != nil {
			return r, nil
		}
		l, err := n.Acquire(ctx, n.leases, key)
		if err == nil {
			s := &n.holds
			s.mu.Lock()
			h := &held{lease: l, refs: 1}
			s.m[key] = h
			s.mu.Unlock()
			n.log.Info("instance lease taken", "app", app, "instance", inst)
			return &holdRef{n: n, key: key, h: h}, nil
		}
		if !errors.Is(err, ErrHeld) {
			return nil, err
		}
		e, err := n.leases.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			continue // released meanwhile: take it
		case err != nil:
			return nil, fmt.Errorf("cluster: instance lease %s/%s: %w", app, inst, err)
		}
		if owner := string(e.Value()); owner != n.tag {
			return nil, &instance.ElsewhereError{App: app, Instance: inst, Node: owner}
		}
		// Ours in the bucket but not here: a racing connect is just
		// registering it, or it is being released. Look again shortly.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: instance lease %s/%s held by this node in the bucket only: %w", app, inst, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
