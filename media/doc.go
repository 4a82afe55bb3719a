// Package media is the live stream engine: publish, play, fan-out, GOP and
// codec-configuration caches, and bounded per-subscriber queues.
//
// It is transport-agnostic: it knows nothing of net, RTMP chunking or
// sockets. A publisher's connection calls [Publication.Write] with each
// audio, video or data message; every player's connection owns a
// [Subscriber] whose single writer goroutine waits on [Subscriber.Ready],
// takes everything pending with [Subscriber.Drain] and chunk-encodes it.
//
// # Fan-out and backpressure (docs/architecture.md#backpressure)
//
// A [Packet] is immutable once written and shared by pointer with every
// subscriber; payloads are never copied. Write never blocks on a subscriber:
// it pushes into each subscriber's preallocated ring under that ring's own
// small mutex and signals a capacity-1 channel without blocking. A
// subscriber whose live backlog passes half of its queue bounds (packets or
// bytes) is "behind": from then on it drops video until the next keyframe
// that arrives when it is no longer behind; audio, data, codec configuration,
// metadata and notifications keep flowing while the queue has room. A
// subscriber that stays behind longer than [Config.SlowConsumerAfter], or
// whose queue is full when a message that must not be dropped arrives, is cut
// off: its Err reports [ErrSlowConsumer], Ready is signaled, one line is
// logged with the reason, and its owner is expected to close the connection.
//
// # Late joiners
//
// A subscriber of a published stream starts with: PublishNotify, the stored
// onMetaData, the cached codec configurations (latest per track and kind:
// AVC/HEVC/AV1 sequence headers, AAC sequence header, E-RTMP SequenceStart),
// then the GOP cache from the last video keyframe, then live packets. Its
// first video frame is therefore a keyframe (docs/flv.md#video-tags, docs/rtmp.md#enhanced-rtmp). This
// initial burst does not count against the queue bounds, which limit the live
// backlog only.
//
// # Audiences
//
// A stream may carry one track twice: as published, in an Enhanced RTMP
// codec, and converted for players that predate it (a WebRTC publisher's
// Opus, and AAC made from it). The publisher marks such packets with
// [Packet.Audience]; a subscriber opened with [SubscribeOptions.Legacy]
// receives those for [ForAll] and [ForLegacy], the others those for
// [ForAll] and [ForEnhanced], live and from the caches alike
// (docs/webrtc.md#players-that-predate-enhanced-rtmp). A subscriber
// opened with [SubscribeOptions.AllAudiences] (a cluster feed) receives
// every packet with its Audience, to publish both copies elsewhere.
//
// # Locks
//
// Lock order, outermost first (a goroutine holding one may take only those
// below it):
//
//	Publication.mu  serializes one publication's Write/SetMetadata/Close
//	Registry.mu     the name -> stream map
//	stream.mu       publisher, caches, subscriber list (copy-on-write)
//	Subscriber.mu   one subscriber's ring, filters and drop state
//
// Write holds stream.mu only to update the caches and snapshot the
// subscriber list, then pushes to each subscriber outside it, so Subscribe
// and Close on other connections wait at most for a cache update.
// Subscriber.mu is a leaf: nothing else is acquired while it is held.
package media
