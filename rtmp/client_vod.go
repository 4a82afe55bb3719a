package rtmp

import (
	"context"
	"errors"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
)

// Client side of recorded playback (docs/flv.md#playback, docs/rtmp.md#play).

// PlayArgs sends play(name, start, len, reset) without waiting for a
// status: start and len in ms as on the wire (start -2000 live or
// recorded, -1000 live only, >= 0 recorded from there; len < 0 to the end,
// 0 a single frame); reset false queues the item after the current one.
func (s *ClientStream) PlayArgs(name string, start, length float64, reset bool) error {
	return s.command("play", amf.String(name), amf.Number(start), amf.Number(length), amf.Bool(reset))
}

// Seek sends seek(ms).
func (s *ClientStream) Seek(ms float64) error { return s.command("seek", amf.Number(ms)) }

// Pause sends pause(pause, position ms).
func (s *ClientStream) Pause(pause bool, position float64) error {
	return s.command("pause", amf.Bool(pause), amf.Number(position))
}

// SetBufferLength tells the server the client's buffer (user control
// event 3), which paces recorded playback (docs/flv.md#pacing).
func (s *ClientStream) SetBufferLength(ms uint32) error {
	return s.c.writeMsg(chunk.Header{CSID: message.CSIDControl, Type: message.TypeUserControl},
		message.UserControl{Event: message.EventSetBufferLength, Value: s.ID, Extra: ms}.Append(nil))
}

// GetStreamLength calls getStreamLength(name) and returns the length in
// seconds (0 for live or unknown streams, docs/rtmp.md#getstreamlength).
func (c *Client) GetStreamLength(ctx context.Context, name string) (float64, error) {
	r, err := c.call(ctx, message.CSIDCommand, 0, "getStreamLength", amf.Null(), amf.String(name))
	if err != nil {
		return 0, err
	}
	v := r.Arg(0)
	if v.Kind() != amf.KindNumber {
		return 0, errors.New("rtmp: getStreamLength result is not a number")
	}
	return v.Num(), nil
}

// PlayStatus returns the info object of an onPlayStatus data message
// payload (NetStream.Play.Complete, NetStream.Play.Switch), or ok false
// when the payload is another data message.
func PlayStatus(payload []byte) (info amf.Value, ok bool) {
	var d amf.Decoder
	vals, err := d.DecodeAMF0All(payload, nil)
	if err != nil || len(vals) < 2 || vals[0].Str() != "onPlayStatus" {
		return amf.Undefined(), false
	}
	return vals[1], true
}
