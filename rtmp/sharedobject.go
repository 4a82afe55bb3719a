package rtmp

import (
	"errors"

	"github.com/openfcs/openfcs/rtmp/chunk"
)

// errNoSharedObjects: remote shared objects arrive with the "Shared
// objects" issue; until then a client using one is told so by a closed
// connection rather than silence.
var errNoSharedObjects = errors.New("rtmp: shared objects are not supported yet")

func (c *conn) handleSharedObject(h chunk.Header, _ []byte) error {
	c.log.Debug("shared object message refused", "type", h.Type)
	return errNoSharedObjects
}

func (c *conn) leaveSharedObjects() {}
