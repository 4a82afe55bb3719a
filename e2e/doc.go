// Package e2e drives the real openfcs binary with real peers: ffmpeg
// publishers and players, rtmpdump players and hand-made raw RTMP clients,
// and checks what the players decode (frame counts, codecs, timestamps) and
// what the server logs.
//
// The tests carry the build tag e2e so that `go test ./...` stays fast; run
// them with `make e2e` (or `go test -race -tags e2e ./e2e/...`). TestMain
// builds cmd/openfcs once with -race (or uses $OPENFCS_BIN) and fails when
// ffmpeg, ffprobe or rtmpdump are missing: run scripts/deps.sh.
//
// The raw clients speak RTMP from bytes written by hand (handshake, chunks,
// AMF0) so that these tests do not share code, and so bugs, with the
// packages they test.
package e2e
