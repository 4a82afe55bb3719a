package rtmp

import "maps"

// Monitoring: the server's connection counters, read by the admin API and
// the metrics on demand. Ended connections add their counters once, in
// connDone; open ones are summed when asked, from counters the session
// keeps anyway. Nothing here runs per message.

// ProtoStats are the counters of one protocol's connections ("rtmp",
// "rtmps", "rtmpt", "rtmpts", "rtmpws", ...).
type ProtoStats struct {
	Open     int    // connections open now
	Accepted uint64 // connections accepted since the start
	BytesIn  uint64 // bytes received, ended and open connections
	BytesOut uint64 // bytes sent
	MsgIn    uint64 // messages received after connect
	MsgOut   uint64 // messages sent
}

// Stats are the server's counters.
type Stats struct {
	// Protos holds one entry per protocol seen since the start.
	Protos map[string]ProtoStats
	// Closed counts ended connections by close reason (Reason.String:
	// "eof", "slow_consumer", "timeout", ...).
	Closed map[string]uint64
	// Egress counts the writer rounds (EgressStats).
	Egress EgressStats
}

// Stats returns the server's counters. Any goroutine; it holds the
// server's lock while it sums the open connections.
func (s *Server) Stats() Stats {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Protos: make(map[string]ProtoStats, len(s.ended)), Closed: maps.Clone(s.reasons), Egress: s.EgressStats()}
	if st.Closed == nil {
		st.Closed = map[string]uint64{}
	}
	for proto, e := range s.ended {
		st.Protos[proto] = *e
	}
	for c := range s.conns {
		ps := st.Protos[c.proto]
		ps.Open++
		if p := c.endPeer.Load(); p != nil {
			ps.BytesIn += p.bytesIn.Load()
			ps.MsgIn += p.msgIn.Load()
		}
		ps.BytesOut += c.bytesOut.Load()
		ps.MsgOut += c.msgsOut.Load()
		st.Protos[c.proto] = ps
	}
	return st
}

// protoLocked returns the ended-connection counters of proto. Called with
// s.mu held.
func (s *Server) protoLocked(proto string) *ProtoStats {
	if s.ended == nil {
		s.ended, s.reasons = map[string]*ProtoStats{}, map[string]uint64{}
	}
	e := s.ended[proto]
	if e == nil {
		e = &ProtoStats{}
		s.ended[proto] = e
	}
	return e
}

// countClosedLocked adds an ended connection's counters. Its goroutines
// are done: the reader's byte count may be read. Called with s.mu held.
func (s *Server) countClosedLocked(c *conn) {
	e := s.protoLocked(c.proto)
	e.BytesIn += c.bytesIn()
	e.BytesOut += c.bytesOut.Load()
	e.MsgOut += c.msgsOut.Load()
	if p := c.peer(); p != nil {
		e.MsgIn += p.msgIn.Load()
	}
	s.reasons[classify(c.failErr).String()]++
}
