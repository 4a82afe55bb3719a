package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openfcs/openfcs/sharedobject"
)

// Persistent shared objects of the instances with one owner live in the
// cluster's sharedobjects bucket (docs/cluster.md#failover): on file
// storage, replicated like the other buckets, never expiring. A node that
// takes an instance over after its owner died loads them from there. The
// value is the file store's encoding (sharedobject.AppendSnapshot), with
// its checks.

// soTimeout bounds one load, save or delete.
const soTimeout = 5 * time.Second

type soStore struct {
	n      *Node
	prefix string
}

// SharedObjectStore returns the store of app/inst's persistent shared
// objects (sharedobject.Store).
func (n *Node) SharedObjectStore(app, inst string) sharedobject.Store {
	return &soStore{n: n, prefix: "so." + base64.RawURLEncoding.EncodeToString([]byte(app+"\x00"+inst)) + "."}
}

func (s *soStore) key(name string) string {
	return s.prefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func (s *soStore) Load(name string) (*sharedobject.Snapshot, error) {
	ctx, cancel := context.WithTimeout(s.n.ctx, soTimeout)
	defer cancel()
	e, err := s.n.sos.Get(ctx, s.key(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, fmt.Errorf("%w: %s", sharedobject.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: shared object %s: %w", name, err)
	}
	return sharedobject.ParseSnapshot(e.Value())
}

func (s *soStore) Save(snap *sharedobject.Snapshot) error {
	b, err := sharedobject.AppendSnapshot(nil, snap)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.n.ctx, soTimeout)
	defer cancel()
	if _, err := s.n.sos.Put(ctx, s.key(snap.Name), b); err != nil {
		return fmt.Errorf("cluster: save shared object %s: %w", snap.Name, err)
	}
	s.n.log.Debug("shared object saved to the cluster", "so", snap.Name, "version", snap.Version, "bytes", len(b))
	return nil
}

func (s *soStore) Delete(name string) error {
	ctx, cancel := context.WithTimeout(s.n.ctx, soTimeout)
	defer cancel()
	err := s.n.sos.Delete(ctx, s.key(name))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("cluster: delete shared object %s: %w", name, err)
	}
	return nil
}
