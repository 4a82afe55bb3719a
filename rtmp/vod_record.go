package rtmp

import (
	"errors"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/status"
)

// recordPlan is what prepareRecord decided for a publish: nil file when
// the publish is not recorded.
type recordPlan struct {
	file *instance.StreamFile
	mode media.RecordMode
	cfg  instance.AppConfig
}

// prepareRecord resolves the recording of publish(name, typ) (docs/flv.md#publish-modes,
// docs/flv.md#file-names-and-paths): "record" and "append" record, and so does "live" when the
// application's config says record.live. A name that cannot be a file gets
// Publish.BadName and false: nothing is published or written.
func (c *conn) prepareRecord(sid uint32, name, typ string) (recordPlan, bool) {
	cfg := c.inst.AppConfigOrDefaults()
	var plan recordPlan
	switch typ {
	case "record":
		plan.mode = media.RecordReplace
	case "append":
		plan.mode = media.RecordAppend
	case "appendWithGap":
		plan.mode = media.RecordAppendWithGap
	default:
		switch cfg.Record.Live {
		case "record":
			plan.mode = media.RecordReplace
		case "append":
			plan.mode = media.RecordAppend
		default:
			return plan, true
		}
	}
	sf, err := c.inst.ResolveStream(cfg, name, true)
	if err != nil {
		c.log.Info("publish refused", "stream", name, "err", err)
		c.sendStatus(sid, status.PublishBadName, name+" is not a valid stream name.",
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
		return plan, false
	}
	plan.file, plan.cfg = &sf, cfg
	return plan, true
}

// startRecord starts the recorder after Publish.Start and answers
// Record.Start, or Record.Failed when the file cannot be written.
func (c *conn) startRecord(ns *netStream, plan recordPlan) {
	if plan.file == nil || ns.pub == nil {
		return
	}
	details := []amf.Prop{{Key: "details", Value: amf.String(ns.name)}, c.clientProp()}
	sid, name := ns.id, ns.name
	rec, err := ns.pub.Record(plan.file.Path, media.RecordOptions{
		Mode:           plan.mode,
		KeyframesIndex: plan.cfg.Record.KeyframesIndex,
		SyncInterval:   plan.cfg.Record.SyncInterval,
		SyncBytes:      plan.cfg.Record.SyncBytes,
		Log:            c.log,
		AMF:            c.cfg.AMF,
		Quota:          c.inst.RecordQuota(),
		// The recording ended on its own (quota, disk): the publish goes
		// on, and the publisher is told now rather than at unpublish.
		OnFail: func(err error) {
			c.sendStatus(sid, status.RecordFailed, recordFailure(name, err), details...)
		},
	})
	if err != nil {
		c.log.Warn("record failed", "stream", ns.name, "file", plan.file.Rel, "err", err)
		code := status.RecordFailed
		if errors.Is(err, media.ErrQuota) {
			code = status.RecordNoAccess
		}
		c.sendStatus(ns.id, code, recordFailure(ns.name, err), details...)
		return
	}
	ns.rec = rec
	c.log.Info("record start", "stream", ns.name, "file", plan.file.Rel, "append", plan.mode != media.RecordReplace)
	c.sendStatus(ns.id, status.RecordStart, "Recording "+ns.name+".", details...)
}

// recordFailure describes a failed recording for the client.
func recordFailure(name string, err error) string {
	if errors.Is(err, media.ErrQuota) {
		return "Recording " + name + " failed: the application's disk quota is reached."
	}
	return "Recording " + name + " failed."
}

// stopRecord finalizes the recording of ns after its publication closed
// and answers Record.Stop.
func (c *conn) stopRecord(ns *netStream) {
	if ns.rec == nil {
		return
	}
	err := ns.rec.Close()
	ns.rec = nil
	if err != nil {
		c.log.Warn("record failed", "stream", ns.name, "err", err)
	}
	c.sendStatus(ns.id, status.RecordStop, "Stopped recording "+ns.name+".",
		amf.Prop{Key: "details", Value: amf.String(ns.name)}, c.clientProp())
}
