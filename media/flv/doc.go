// Package flv holds pure helpers over FLV tag bodies, which are byte for byte
// the payloads of RTMP audio (type 8) and video (type 9) messages.
//
// The helpers only classify: they tell the live engine which messages are
// codec configuration (to cache and replay to late joiners) and which are
// video keyframes (to start a GOP cache and to resume a subscriber that was
// dropping video). Every codec — Sorenson H.263, screen video, VP6, H.264
// with composition offsets, Nellymoser, Speex, MP3, AAC, PCM, G.711 and the
// E-RTMP FourCC codecs — passes through untouched; nothing here rewrites a
// payload.
//
// Formats follow docs/flv.md#audio-tags (audio tags), docs/flv.md#video-tags (video tags) and docs/rtmp.md#enhanced-rtmp
// (Enhanced RTMP: ExVideoTagHeader, ExAudioTagHeader, ModEx, multitrack).
// Parsers never read past the slice and report malformed headers with an
// error naming the offset. The Is* predicates and Classify* functions never
// allocate (they run once per published message) and answer false / a zero
// Class for anything they cannot parse.
//
// Files (docs/flv.md#file-layout, docs/flv.md#script-data-and-onmetadata, docs/flv.md#crash-safety, docs/flv.md#finding-keyframes, docs/flv.md#broken-and-hostile-files): ParseHeader/AppendHeader,
// ParseTagHeader/AppendTag, a Reader that reads tags from an io.ReaderAt
// with limits and reports a truncated tail (ErrTruncated), Scan (keyframe
// and configuration index from tag headers only), TailOK/LastTagTime, and
// onMetaData helpers: ParseMetadata, ValidateKeyframes, and MetaTemplate,
// whose changing numbers and reserved keyframes index are overwritten in
// place when a recording closes. Writing files (os) is the media package's.
package flv
