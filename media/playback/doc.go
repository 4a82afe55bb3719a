// Package playback is the one player of the engine: it plays a playlist of
// recorded files and live streams of an application instance and emits
// what a subscriber drains, packets with their output timestamps plus typed
// status events (start, switch, complete, stop, not found, pause, seek...).
// Transports and scripts are thin adapters over it: the RTMP session turns
// the events into user control messages, onStatus and onPlayStatus; a
// server-side ActionScript playlist (Stream.play) writes the packets into
// the script's publication and the statuses into Stream.onStatus.
//
// One rule set, in milliseconds throughout (docs/playback.md):
//
//   - Item.Start -2000 (any negative but -1000) plays the live stream when
//     one is published, else the recorded file, else waits for a publisher;
//     -1000 plays the live stream only (waiting for it); >= 0 plays the file
//     from that time, and a published live stream of that name when there is
//     no file (clients such as librtmp send 0 by default).
//   - Item.Len < 0 plays to the end, 0 a single frame (the video keyframe
//     at or before Start, or one audio frame when the item has no video),
//     > 0 that long.
//   - reset replaces the playlist; Append queues an item after the running
//     ones. Output timestamps continue across items (the next item starts
//     one millisecond after the last one sent).
//   - A recorded item is paced by the client's buffer (media.Pacer); live
//     items are forwarded as they arrive, re-based onto the output timeline.
//
// The player knows the instance only through [Library]; it imports no
// transport and no script host.
package playback
