package rtmp

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// onWebRTCOffer answers a NetStream's webrtcOffer command: {mode:
// "publish" or "play", name, sdp}. The offer goes to the Signaller with
// this connection's client, which the application already admitted; the
// answer comes back as the command's _result, a refusal as its _error
// with the HTTP status of the equivalent WHIP or WHEP refusal, which the
// page reads to fall back to RTMP media on the same NetStream.
func (c *conn) onWebRTCOffer(sid uint32, cmd *message.Command) {
	fail := func(code int, desc string) {
		c.sendCommand(0, &message.Command{Name: "_error", Txn: cmd.Txn, Object: amf.Null(),
			Args: []amf.Value{status.Info(status.WebRTCFailed, desc, amf.Prop{Key: "status", Value: amf.Number(float64(code))})}})
	}
	ns := c.streams[sid]
	if ns == nil {
		fail(http.StatusNotFound, "No such stream.")
		return
	}
	if c.srv.Signal == nil || c.inst == nil {
		fail(http.StatusServiceUnavailable, "WebRTC is not available on this connection.")
		return
	}
	obj := cmd.Arg(0)
	mode, raw, offer := obj.Get("mode").Str(), obj.Get("name").Str(), obj.Get("sdp").Str()
	if mode != "publish" && mode != "play" {
		fail(http.StatusBadRequest, "mode must be publish or play.")
		return
	}
	ns.stop(c, true)
	c.stopped(ns)
	name, query, err := instance.StreamName(raw)
	if err != nil {
		fail(http.StatusBadRequest, raw+" is not a valid stream name.")
		return
	}
	ended := func(reason string) {
		// The peer's goroutine: only queue a message.
		if reason == "completed" {
			// A recorded stream played out: the play ended, as over RTMP;
			// nothing for the page to fall back to.
			c.sendStatus(sid, status.PlayStop, "Stopped playing "+name+".",
				amf.Prop{Key: "details", Value: amf.String(name)}, amf.Prop{Key: "transport", Value: amf.String("webrtc")})
			return
		}
		c.sendStatus(sid, status.WebRTCClosed, "The WebRTC peer ended: "+reason+".",
			amf.Prop{Key: "details", Value: amf.String(name)}, amf.Prop{Key: "reason", Value: amf.String(reason)})
	}
	answer, stop, control, err := c.srv.Signal.Negotiate(c.inst, c.client, mode == "publish", name, query, offer, ended)
	if err != nil {
		code := http.StatusBadRequest
		var sc interface{ StatusCode() int }
		if errors.As(err, &sc) {
			code = sc.StatusCode()
		}
		c.log.Info("webrtc refused", "stream", name, "mode", mode, "status", code, "err", err)
		fail(code, err.Error())
		return
	}
	ns.rtc, ns.rtcControl, ns.name = stop, control, name
	c.log.Info("webrtc start", "stream", name, "mode", mode)
	c.sendCommand(0, &message.Command{Name: "_result", Txn: cmd.Txn, Object: amf.Null(),
		Args: []amf.Value{status.Info(status.WebRTCAnswer, "", amf.Prop{Key: "sdp", Value: amf.String(answer)})}})
	details := []amf.Prop{{Key: "details", Value: amf.String(name)}, c.clientProp(), {Key: "transport", Value: amf.String("webrtc")}}
	if mode == "publish" {
		c.sendStatus(sid, status.PublishStart, name+" is now published.", details...)
	} else {
		c.sendStatus(sid, status.PlayStart, "Started playing "+name+".", details...)
	}
}

// rtcPause and rtcSeek carry a NetStream's pause and seek to the recorded
// stream its WebRTC peer plays (docs/webrtc.md#pause-and-seek): the
// command travels over this connection, the media go on over the peer.
// The statuses are those of an RTMP play of the file. A live stream
// cannot be paused or moved for one WebRTC viewer: its outlet is shared.
func (c *conn) rtcPause(ns *netStream, pause bool) {
	if ns.rtcControl == nil {
		c.sendStatus(ns.id, status.StreamFailed, "Pausing a live stream played over WebRTC is not possible.",
			amf.Prop{Key: "details", Value: amf.String(ns.name)})
		return
	}
	if pause == ns.paused {
		return // as the engine's player: a second pause says nothing
	}
	ns.paused = pause
	ns.rtcControl.Pause(pause)
	details := []amf.Prop{{Key: "details", Value: amf.String(ns.name)}, {Key: "transport", Value: amf.String("webrtc")}}
	if pause {
		c.sendStatus(ns.id, status.PauseNotify, "Pausing "+ns.name+".", details...)
	} else {
		c.sendStatus(ns.id, status.UnpauseNotify, "Unpausing "+ns.name+".", details...)
	}
}

func (c *conn) rtcSeek(ns *netStream, ms float64) {
	if ns.rtcControl == nil {
		c.sendStatus(ns.id, status.SeekFailed, "Seeking is not possible in a live stream.")
		return
	}
	pos := max(msArg(ms, 0), 0)
	ns.rtcControl.SeekTo(pos)
	details := []amf.Prop{{Key: "details", Value: amf.String(ns.name)}, {Key: "transport", Value: amf.String("webrtc")}}
	c.sendStatus(ns.id, status.SeekNotify,
		"Seeking "+strconv.FormatInt(pos, 10)+" (stream ID: "+strconv.FormatUint(uint64(ns.id), 10)+").", details...)
	c.sendStatus(ns.id, status.PlayStart, "Started playing "+ns.name+".", details...)
}
