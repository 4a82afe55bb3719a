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
// Formats follow flv.md §4 (audio tags), §5 (video tags) and rtmp.md §11
// (Enhanced RTMP: ExVideoTagHeader, ExAudioTagHeader, ModEx, multitrack).
// Parsers never read past the slice and report malformed headers with an
// error naming the offset. The Is* predicates and Classify* functions never
// allocate (they run once per published message) and answer false / a zero
// Class for anything they cannot parse.
//
// Not here yet: the FLV file reader and writer (flv.md §1–§3, §7–§12).
package flv
