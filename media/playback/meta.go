package playback

import (
	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media/flv"
)

// fileOnlyMeta are the onMetaData properties that describe a file and are
// wrong for the live stream a Live player feeds: a player would take the
// item's duration for the stream's.
var fileOnlyMeta = map[string]bool{
	"duration": true, "filesize": true, "keyframes": true, "lasttimestamp": true,
	"lastkeyframetimestamp": true, "lastkeyframelocation": true, "canSeekToEnd": true,
}

// liveMetadata returns a recorded item's onMetaData without its file-only
// properties; undecodable metadata is passed on unchanged.
func liveMetadata(p []byte, lim amf.Limits) []byte {
	md, err := flv.ParseMetadata(p, lim)
	if err != nil {
		return p
	}
	props := make([]amf.Prop, 0, len(md.Props))
	for _, pr := range md.Props {
		if !fileOnlyMeta[pr.Key] {
			props = append(props, pr)
		}
	}
	out, err := amf.AppendAMF0Values(nil, amf.String("onMetaData"), amf.ECMAArray(props...))
	if err != nil {
		return p
	}
	return out
}
