package message

import (
	"errors"
	"fmt"

	"github.com/openfcs/openfcs/amf"
)

// ErrNotCommand is returned when a command body does not start with a name
// string and a transaction number (docs/rtmp.md#command-shapes).
var ErrNotCommand = errors.New("message: not a command")

// Command is a type 20 (AMF0) or type 17 (AMF3) message: a name, a
// transaction id, a command object and arguments (docs/rtmp.md#command-shapes).
type Command struct {
	Name   string
	Txn    float64
	Object amf.Value // usually null
	Args   []amf.Value
}

// Arg returns argument i, or undefined when the command has fewer.
func (c *Command) Arg(i int) amf.Value {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return amf.Undefined()
}

// Append encodes the command as a type 20 body. Values that AMF0 cannot
// express are written with the 0x11 switch by the encoder, which is how a
// server answers AMF3 clients (docs/amf.md#message-bodies).
func (c *Command) Append(b []byte, e *amf.Encoder) ([]byte, error) {
	var err error
	if b, err = e.AppendAMF0(b, amf.String(c.Name)); err != nil {
		return b, err
	}
	if b, err = e.AppendAMF0(b, amf.Number(c.Txn)); err != nil {
		return b, err
	}
	obj := c.Object
	if obj.IsUndefined() {
		obj = amf.Null()
	}
	if b, err = e.AppendAMF0Switched(b, obj); err != nil {
		return b, err
	}
	for _, a := range c.Args {
		if b, err = e.AppendAMF0Switched(b, a); err != nil {
			return b, err
		}
	}
	return b, nil
}

// ParseCommand decodes a command body of type t (20 or 17; for 17 the format
// byte is skipped whatever its value, docs/amf.md#message-bodies). Args reuses dst's
// capacity.
func ParseCommand(p []byte, t Type, d *amf.Decoder, dst []amf.Value) (Command, error) {
	if t == TypeCommandAMF3 {
		if len(p) == 0 {
			return Command{}, fmt.Errorf("%w: empty AMF3 command", ErrShort)
		}
		p = p[1:]
	}
	vals, err := d.DecodeAMF0All(p, dst[:0])
	if err != nil {
		return Command{}, fmt.Errorf("decode command: %w", err)
	}
	if len(vals) < 2 || vals[0].Kind() != amf.KindString || vals[1].Kind() != amf.KindNumber {
		return Command{}, ErrNotCommand
	}
	c := Command{Name: vals[0].Str(), Txn: vals[1].Num(), Object: amf.Null()}
	if len(vals) > 2 {
		c.Object = vals[2]
	}
	if len(vals) > 3 {
		c.Args = vals[3:]
	}
	return c, nil
}

// Data is a type 18 (AMF0) or type 15 (AMF3) data message: a handler name
// followed by values (docs/rtmp.md#data-messages).
type Data struct {
	Handler string
	Args    []amf.Value
}

// Append encodes the data message as a type 18 body.
func (m *Data) Append(b []byte, e *amf.Encoder) ([]byte, error) {
	b, err := e.AppendAMF0(b, amf.String(m.Handler))
	if err != nil {
		return b, err
	}
	for _, a := range m.Args {
		if b, err = e.AppendAMF0Switched(b, a); err != nil {
			return b, err
		}
	}
	return b, nil
}

// DataBody returns the AMF0-framed part of a data message of type t: the
// payload itself for type 18, the payload after the format byte for 15.
func DataBody(p []byte, t Type) ([]byte, error) {
	if t == TypeDataAMF3 {
		if len(p) == 0 {
			return nil, fmt.Errorf("%w: empty AMF3 data message", ErrShort)
		}
		return p[1:], nil
	}
	return p, nil
}

// ParseData decodes a data message body of type t.
func ParseData(p []byte, t Type, d *amf.Decoder, dst []amf.Value) (Data, error) {
	p, err := DataBody(p, t)
	if err != nil {
		return Data{}, err
	}
	vals, err := d.DecodeAMF0All(p, dst[:0])
	if err != nil {
		return Data{}, fmt.Errorf("decode data message: %w", err)
	}
	if len(vals) < 1 || vals[0].Kind() != amf.KindString {
		return Data{}, errors.New("message: data message without handler name")
	}
	return Data{Handler: vals[0].Str(), Args: vals[1:]}, nil
}

// Handler returns the handler name of an AMF0-framed data body and the
// number of bytes it occupies, without decoding the rest. It lets the
// server strip "@setDataFrame" without re-encoding the metadata.
func Handler(body []byte) (name string, n int, ok bool) {
	if len(body) < 3 || body[0] != 0x02 {
		return "", 0, false
	}
	l := int(body[1])<<8 | int(body[2])
	if len(body) < 3+l {
		return "", 0, false
	}
	return string(body[3 : 3+l]), 3 + l, true
}
