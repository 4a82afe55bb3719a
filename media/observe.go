package media

// Observer hears when a registry's streams gain or lose a publisher and
// when a player starts waiting for a stream nobody publishes here. A
// scale-out layer implements it to announce the node's streams and to fetch
// streams published on other nodes; the engine never learns how.
//
// Calls are made after the registry's locks are released, on the goroutine
// of the publisher or player that caused them; an implementation must not
// block.
type Observer interface {
	// Published: a local publisher (not a relay) took name.
	Published(name string)
	// Unpublished: that publisher left.
	Unpublished(name string)
	// Waiting: a player subscribed to name while no publisher holds it.
	Waiting(name string)
	// Closed: the registry closed (its instance unloaded).
	Closed()
}

// SetObserver installs o; call it before the registry is shared.
func (r *Registry) SetObserver(o Observer) {
	r.mu.Lock()
	r.obs = o
	r.mu.Unlock()
}

// PublishRelay publishes name like Publish, but as a copy of a stream
// published elsewhere: the observer does not hear of it, so that a relayed
// stream is never announced as this node's own.
func (r *Registry) PublishRelay(name string) (*Publication, error) {
	return r.publish(name, true)
}

// Waiting reports whether name has players and no publisher.
func (r *Registry) Waiting(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[name]
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.pub == nil && len(st.subs) > 0
}

// Players returns how many subscribers name has.
func (r *Registry) Players(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[name]
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.subs)
}

// IsRelay reports whether the publication is a relay (PublishRelay).
func (p *Publication) IsRelay() bool { return p.relay }
