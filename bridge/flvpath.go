package bridge

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openfcs/openfcs/instance"
)

// errNotFLVPath: the path does not name a live stream as HTTP-FLV.
var errNotFLVPath = errors.New("bridge: not an HTTP-FLV path")

// flvTarget is the stream an HTTP-FLV path names.
type flvTarget struct {
	App, Instance, Stream string
}

// parseFLVPath parses "/<app>/<stream>.flv" (instance _definst_) and
// "/<app>/<instance>/<stream>.flv"; segments between the application and
// the last one form a nested instance name, as in an RTMP URL, so
// "/app/a/b/s.flv" is instance "a/b". The names are checked as the RTMP
// side checks them: they can never leave their folders.
func parseFLVPath(p string) (flvTarget, error) {
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return flvTarget{}, errNotFLVPath
	}
	rest, ok = strings.CutSuffix(rest, ".flv")
	if !ok {
		return flvTarget{}, errNotFLVPath
	}
	i, j := strings.IndexByte(rest, '/'), strings.LastIndexByte(rest, '/')
	if i < 0 {
		return flvTarget{}, fmt.Errorf("%w: %q names no stream", errNotFLVPath, p)
	}
	app, inst, stream := rest[:i], instance.DefaultInstance, rest[j+1:]
	if j > i {
		inst = rest[i+1 : j]
	}
	if err := instance.CheckName(app, false); err != nil {
		return flvTarget{}, fmt.Errorf("application %q: %w", app, err)
	}
	if err := instance.CheckName(inst, true); err != nil {
		return flvTarget{}, fmt.Errorf("instance %q: %w", inst, err)
	}
	// A stream segment holds no "/", and a live stream no prefix such as
	// "flv:" (CheckName refuses the colon).
	if err := instance.CheckName(stream, false); err != nil {
		return flvTarget{}, fmt.Errorf("stream %q: %w", stream, err)
	}
	return flvTarget{App: app, Instance: inst, Stream: stream}, nil
}
