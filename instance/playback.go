package instance

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openfcs/openfcs/media/playback"
)

// Instance is the playback.Library of its players: its recorded files and
// live streams.
var _ playback.Library = (*Instance)(nil)

// RecordedFile resolves a stream name to its recorded file below the
// instance's streams folder (playback.Library).
func (in *Instance) RecordedFile(name string) (playback.File, bool, error) {
	ctr, _, perr := ParseStreamFile(name, false)
	explicit := perr == nil && (ctr != ContainerFLV || strings.HasPrefix(name, "flv:"))
	sf, err := in.ResolveStream(in.AppConfigOrDefaults(), name, false)
	if errors.Is(err, ErrStreamNotFound) {
		err = fmt.Errorf("%w: %w", playback.ErrNoFile, err)
	}
	if err != nil {
		return playback.File{}, explicit, err
	}
	return playback.File{Path: sf.Path, Rel: sf.Rel, Format: sf.Container.VODFormat()}, explicit, nil
}

// NewPlayer returns a player of the instance's streams whose playlist
// starts with first (playback.New): the instance is its Library, the
// manager's Config.Playback its limits, the instance's logger its log
// unless opts give one.
func (in *Instance) NewPlayer(opts playback.Options, first playback.Item, reset bool) *playback.Player {
	opts.Library = in
	opts.Config = in.m.cfg.Playback
	if opts.Log == nil {
		opts.Log = in.log
	}
	return playback.New(opts, first, reset)
}

// StreamLength returns the duration in seconds of the recorded stream
// name, 0 for live or missing ones (getStreamLength, Stream.length).
func (in *Instance) StreamLength(name string) float64 { return playback.Length(in, name) }
