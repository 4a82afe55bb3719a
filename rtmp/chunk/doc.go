// Package chunk implements the RTMP chunk stream of docs/rtmp.md#chunk-stream: a Reader
// that reassembles messages from interleaved chunks and a Writer that cuts
// messages into chunks, plus the two protocol control messages that change
// how chunks are parsed (Set Chunk Size and Abort, docs/rtmp.md#protocol-control-messages types 1 and 2), which
// the Reader applies itself.
//
// Reader accepts every encoding real peers send: fmt 0–3 headers, the three
// chunk stream id (csid) forms (and csid 64..319 in the 3-byte form), extended
// timestamps including the fmt-3 quirk of docs/rtmp.md#extended-timestamps in both its strict and its
// 2009-draft variant, interleaving across csids, and a new header on a csid
// whose message is unfinished (the partial message is discarded, as docs/rtmp.md#message-header
// advises). Every length a peer sends is checked against [Limits] before
// anything is allocated; limits are in limits.go with their reasons.
//
// Writer follows docs/rtmp.md#how-openfcs-writes-chunks: fmt 0 for the first message on a csid, when the
// message stream id changes or time goes backwards, fmt 1 or 2 otherwise, and
// fmt 3 only for continuation chunks, which repeat the extended timestamp.
// Writer.Append encodes headers into a reused [Batch] and references the
// payload without copying, so fan-out to many connections shares one payload;
// Batch.WriteTo flushes a whole batch in one vectored write. In steady state
// neither allocates.
//
// The package is a pure codec: no logging, no goroutines, no deadlines.
// Messages above the chunk layer (typed control messages, user control
// events, commands) are in package message. Acknowledgements are sent by the
// session layer from Reader.BytesRead.
package chunk
