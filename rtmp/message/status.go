package message

import "github.com/openfcs/openfcs/amf"

// Status levels of info objects (docs/rtmp.md#command-shapes).
const (
	LevelStatus  = "status"
	LevelWarning = "warning"
	LevelError   = "error"
)

// Info builds an info object: level, code and description first (clients
// read these), then extra properties in the order given.
func Info(level, code, description string, extra ...amf.Prop) amf.Value {
	props := make([]amf.Prop, 0, 3+len(extra))
	props = append(props,
		amf.Prop{Key: "level", Value: amf.String(level)},
		amf.Prop{Key: "code", Value: amf.String(code)},
		amf.Prop{Key: "description", Value: amf.String(description)},
	)
	props = append(props, extra...)
	return amf.Object(props...)
}

// StatusError is an error that carries a NetConnection/NetStream status
// code, so the layer that reports it can map it to onStatus or _error
// without parsing text (docs/architecture.md#errors).
type StatusError struct {
	Code        string
	Description string
	Err         error
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Description + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *StatusError) Unwrap() error { return e.Err }
