// Package sharedobject is the engine of remote shared objects
// (docs/shared-objects.md): per application instance, a [Registry] of
// shared objects keyed by (name, persistent), their slots, versions,
// tombstones and subscribers; the server processing of every client event
// (docs/shared-objects.md#what-the-server-does-per-event); per-subscriber coalescing of the changes made in one tick; the
// server-side API that SSAS binds (docs/shared-objects.md#server-side-api: get/set, send, lock/unlock, flush,
// clear, purge, onSync); persistence behind the [Store] interface with a
// crash-safe file implementation ([FileStore], docs/shared-objects.md#persistence); and the limits of docs/shared-objects.md#limits.
//
// # Delivery
//
// Transports never see engine state. A connection registers a
// [Subscriber] and gets a [Session]; it hands every parsed message to
// [Session.Handle] and receives [Outgoing] messages through
// Subscriber.Deliver. Every change is encoded once, when it is accepted;
// at the end of a tick (leading edge: a change to an object that flushed
// less than Config.Coalesce ago waits for the rest of that interval) the
// object builds one message body holding the tick's coalesced events (one
// Change per slot, last value wins; sends and removes in order) and hands
// the same bytes to every subscriber. Only the writers of the tick get a
// body of their own, with Success in place of their own Changes. An
// Outgoing carries both wire forms in one buffer: the type-16 body is
// `00` + the type-19 body (package wire), so nothing is encoded per
// subscriber and delivering allocates nothing per subscriber.
//
// # Concurrency
//
// Each SharedObject serializes its mutations with its own mutex; there is
// no cross-object transaction. Lock order: Registry.mu, then
// SharedObject.saveMu, then SharedObject.mu, then whatever
// Subscriber.Deliver takes (it must not block and must not call back into
// this package). Hooks (onSync, onMessage) run after the object's lock is
// released, on the goroutine that applied the change.
//
// The package imports no transport: the wire codec is the pure package
// sharedobject/wire.
package sharedobject
