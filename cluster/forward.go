package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"
)

// Header names of a forwarded tunnel request and its answer.
const (
	hdrPath   = "Openfcs-Path"
	hdrStatus = "Openfcs-Status"
)

// Forward carries one RTMPT request (its path and body) for a session of
// node to that node, over NATS request/reply, and returns the owner's
// status and body. A node that is not there answers 404, as an unknown
// session does, so that the client opens a new session through the load
// balancer (docs/cluster.md#forwarding).
func (n *Node) Forward(ctx context.Context, node, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	m := nats.NewMsg(n.subject("tunnel", node))
	m.Header.Set(hdrPath, path)
	m.Data = body
	r, err := n.nc.RequestMsgWithContext(ctx, m)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return http.StatusNotFound, nil, nil
	case err != nil:
		return http.StatusServiceUnavailable, nil, fmt.Errorf("cluster: forward to %s: %w", node, err)
	}
	status, err := strconv.Atoi(r.Header.Get(hdrStatus))
	if err != nil || status < 100 || status > 599 {
		return http.StatusBadGateway, nil, fmt.Errorf("cluster: forward to %s: bad status %q", node, r.Header.Get(hdrStatus))
	}
	return status, r.Data, nil
}

// TunnelHandler serves a forwarded request locally: never forwarding it
// again, whatever session it names.
type TunnelHandler func(path string, body []byte) (status int, resp []byte)

// ServeTunnel answers the RTMPT requests other nodes forward to this one
// with h, each on its own goroutine (a poll may wait for output), at most
// cfg.MaxForwarded at once; beyond that they answer 503.
func (n *Node) ServeTunnel(h TunnelHandler) error {
	sub, err := n.nc.Subscribe(n.subject("tunnel", n.tag), func(m *nats.Msg) {
		select {
		case n.fwdSem <- struct{}{}:
		default:
			respondStatus(m, http.StatusServiceUnavailable, nil)
			return
		}
		n.wg.Go(func() {
			defer func() { <-n.fwdSem }()
			status, body := h(m.Header.Get(hdrPath), m.Data)
			respondStatus(m, status, body)
		})
	})
	if err != nil {
		return fmt.Errorf("cluster: serve tunnel: %w", err)
	}
	n.subs = append(n.subs, sub)
	return nil
}

func respondStatus(m *nats.Msg, status int, body []byte) {
	r := nats.NewMsg(m.Reply)
	r.Header.Set(hdrStatus, strconv.Itoa(status))
	r.Data = body
	_ = m.RespondMsg(r)
}
