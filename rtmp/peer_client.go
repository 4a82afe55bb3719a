package rtmp

import (
	"context"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp/message"
)

// Client helpers for server-side NetConnections of application scripts
// (docs/ssas.md#netconnection-and-netstream) and for tests that play the Flash Player's part in
// server-to-client calls.

// ConnectInfo is Connect returning the info object of the answer whether
// it is a _result (ok) or an _error (rejected: the info carries code,
// description and the script's application object). err reports only
// transport failures.
func (c *Client) ConnectInfo(ctx context.Context, app, tcURL string, args ...amf.Value) (info amf.Value, ok bool, err error) {
	r, err := c.call(ctx, message.CSIDCommand, 0, "connect", c.connectObject(app, tcURL, false), args...)
	if r != nil && r.Name == "_error" {
		return infoOf(r), false, nil
	}
	if err != nil {
		return amf.Undefined(), false, err
	}
	return infoOf(r), true, nil
}

// CallInfo invokes a server method and returns the first value of its
// _result (ok) or the info object of its _error (!ok).
func (c *Client) CallInfo(ctx context.Context, name string, args ...amf.Value) (v amf.Value, ok bool, err error) {
	r, err := c.call(ctx, message.CSIDCommand, 0, name, amf.Null(), args...)
	if r != nil && r.Name == "_error" {
		return r.Arg(0), false, nil
	}
	if err != nil {
		return amf.Undefined(), false, err
	}
	return r.Arg(0), true, nil
}

// Send invokes a server method without asking for an answer (txn 0).
func (c *Client) Send(name string, args ...amf.Value) error {
	return c.writeCommand(message.CSIDCommand, 0, &message.Command{Name: name, Object: amf.Null(), Args: args})
}

// Reply answers a server-to-client call received on Calls: a _result with
// v when ok, an _error with v as the info object otherwise. Calls with
// txn 0 want no answer; Reply then does nothing.
func (c *Client) Reply(txn float64, v amf.Value, ok bool) error {
	if txn == 0 {
		return nil
	}
	name := "_result"
	if !ok {
		name = "_error"
	}
	return c.writeCommand(message.CSIDCommand, 0, &message.Command{Name: name, Txn: txn, Object: amf.Null(), Args: []amf.Value{v}})
}
