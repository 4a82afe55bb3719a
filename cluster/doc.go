// Package cluster joins openfcs nodes into one service behind a plain
// (non-sticky) HTTP load balancer, on NATS: an embedded nats-server (or an
// external one) carries node-to-node requests, and JetStream key-value
// buckets hold the leases that say which node owns what (docs/cluster.md).
//
// A Node offers three things to the transports, wired in cmd/openfcs:
// Forward carries an RTMPT request for a session of another node to that
// node and returns its answer; ServeTunnel answers the requests other
// nodes forward here; StreamObserver announces the streams published here
// and fetches, one copy per node, the streams players here want from the
// node that publishes them. The engine packages never import this one:
// they only call media.Observer.
package cluster
