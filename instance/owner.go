package instance

import (
	"errors"
	"fmt"

	"github.com/openfcs/openfcs/sharedobject"
)

// Scale-out (docs/cluster.md#one-instance-one-owner): in a cluster an
// instance may have to run on one node only. The engine asks an Owner
// before it loads an instance; the Owner either lets it run here, holding
// whatever keeps other nodes from running it too, or names the node that
// runs it, and the transport relays the client there.

// ErrElsewhere means the instance runs on another node; the error is an
// *ElsewhereError naming it.
var ErrElsewhere = errors.New("instance: runs on another node")

// ElsewhereError names the node that runs an instance.
type ElsewhereError struct {
	App, Instance, Node string
}

func (e *ElsewhereError) Error() string {
	return fmt.Sprintf("instance: %s/%s runs on node %s", e.App, e.Instance, e.Node)
}

// Is makes the error match ErrElsewhere.
func (e *ElsewhereError) Is(target error) bool { return target == ErrElsewhere }

// Owner decides where an instance runs.
type Owner interface {
	// Own is asked before app/inst loads here. It returns a nil Hold and
	// a nil error when the instance needs no single owner (it may run on
	// every node), a Hold when it runs here, an *ElsewhereError when it
	// runs on another node, and any other error when nobody can tell
	// (the connect fails). It may wait on the network; the manager does
	// not hold its lock meanwhile.
	Own(app, inst string) (Hold, error)
}

// Hold is this node's right to run one instance.
type Hold interface {
	// Lost is closed when the right is gone: the instance must stop at
	// once, before another node can take it over.
	Lost() <-chan struct{}
	// Release gives the right up; the instance has stopped. Called once.
	Release()
}

// SetOwner installs o, asked before each instance loads, and store, which
// keeps the persistent shared objects of the instances o gives a Hold
// (nil: the file store, as for every other instance). Call it before the
// first Connect.
func (m *Manager) SetOwner(o Owner, store func(app, inst string) sharedobject.Store) {
	m.mu.Lock()
	m.owner, m.soStore = o, store
	m.mu.Unlock()
}

// own asks the Owner about app/inst when the instance is not loaded here.
func (m *Manager) own(app, inst string) (Hold, error) {
	m.mu.Lock()
	o, loaded := m.owner, m.instances[app+"/"+inst] != nil
	m.mu.Unlock()
	if o == nil || loaded {
		return nil, nil
	}
	return o.Own(app, inst)
}

// watchHold stops in when its hold is lost, and releases the hold once
// in has unloaded.
func (m *Manager) watchHold(in *Instance, h Hold) {
	go func() {
		select {
		case <-h.Lost():
			in.log.Warn("instance stopped: its ownership was lost")
			m.shutdownInstance(in)
		case <-in.gone:
		}
		<-in.gone
		h.Release()
	}()
}
