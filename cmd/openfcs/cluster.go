package main

import (
	"context"
	"path/filepath"

	"github.com/openfcs/openfcs/cluster"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/ssas"
)

// Wiring of one instance, one owner (docs/cluster.md#one-instance-one-owner):
// the engine asks scriptOwner before loading an instance; a session whose
// instance runs elsewhere relays through clusterRelay; the sessions relayed
// here run on the RTMP server through virtualServer.

// scriptOwner gives the instances of applications with a script one owner
// in the cluster: a script's state (application.clients, its shared
// objects, its variables) exists once. The instances of applications
// without one run on every node that has clients for them; their
// streams cross nodes through the relays (docs/cluster.md#streams).
type scriptOwner struct {
	node *cluster.Node
	apps string // applications folder
}

func (o scriptOwner) Own(app, inst string) (instance.Hold, error) {
	if name, _, _ := ssas.FindEntry(filepath.Join(o.apps, app), app); name == "" {
		return nil, nil
	}
	return o.node.Own(app, inst)
}

// clusterRelay implements rtmp.Relayer over the cluster's links.
type clusterRelay struct{ node *cluster.Node }

func (r clusterRelay) Relay(ctx context.Context, node string, open rtmp.RelayOpen, deliver func(rtmp.Message), end func(error)) (rtmp.RelayLink, error) {
	l, err := r.node.Relay(ctx, node, cluster.LinkOpen{App: open.App, Instance: open.Instance, IP: open.IP,
		Proto: open.Proto, ConnectHeader: open.Connect.Header, Connect: open.Connect.Payload},
		func(h chunk.Header, p []byte) { deliver(rtmp.Message{Header: h, Payload: p}) }, end)
	if err != nil {
		return nil, err
	}
	return relayLink{l}, nil
}

type relayLink struct{ l *cluster.Link }

func (r relayLink) Send(m rtmp.Message) error { return r.l.Send(m.Header, m.Payload) }
func (r relayLink) Close()                    { r.l.Close() }

// virtualServer implements cluster.VirtualServer on the RTMP server.
type virtualServer struct{ srv *rtmp.Server }

func (v virtualServer) ServeVirtual(ctx context.Context, proto, ip string) (cluster.VirtualSession, error) {
	s, err := v.srv.ServeVirtual(ctx, proto, ip)
	if err != nil {
		return nil, err
	}
	return virtualSession{s}, nil
}

type virtualSession struct{ v *rtmp.Virtual }

func (s virtualSession) Write(h chunk.Header, p []byte) error {
	return s.v.Write(rtmp.Message{Header: h, Payload: p})
}

func (s virtualSession) Read() (chunk.Header, []byte, error) {
	m, err := s.v.Read()
	return m.Header, m.Payload, err
}

func (s virtualSession) Close() error { return s.v.Close() }
