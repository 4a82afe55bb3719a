#!/usr/bin/env bash
# WebRTC viewers per core: one openfcs (built without -race) plays one
# 1 Mbit/s H.264 stream, published by ffmpeg over RTMP, to N WebRTC viewers
# opened by a separate process (the `recv` command of the floor-webrtc
# tool in ../shared/tools: stock pion receivers, one UDP socket each). The
# server's CPU (utime+stime from /proc) over a 15 s window after a 5 s
# warm-up gives viewers per core = N / (CPU seconds per second). Loopback
# only; every process is stopped by PID at the end.
#
#   scripts/bench-webrtc.sh 50 100 200 400
#   PROFILE=/tmp/cpu.pprof scripts/bench-webrtc.sh 400   # the server's CPU profile, whole run
set -euo pipefail
cd "$(dirname "$0")/.."
ns=("${@:-100}")
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The tool lives in shared/ beside the repository (FLOOR_WEBRTC overrides).
floor=${FLOOR_WEBRTC:-}
for d in ../shared/tools/floor-webrtc ../../shared/tools/floor-webrtc; do
  [ -z "$floor" ] && [ -d "$d" ] && floor=$d
done
[ -n "$floor" ] || { echo "bench-webrtc: shared/tools/floor-webrtc not found (set FLOOR_WEBRTC)" >&2; exit 1; }
(cd "$floor" && go build -o "$work/floor-webrtc" .)
go build -o "$work/openfcs" ./cmd/openfcs
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=640x360:rate=25 -t 20 -vf noise=alls=4:allf=t \
  -pix_fmt yuv420p -c:v libx264 -profile:v baseline -bf 0 -g 50 -b:v 1M -f flv "$work/x.flv"

mkdir -p "$work/apps/live"
cat > "$work/openfcs.yaml" <<YAML
webrtc:
  udp: "127.0.0.1:0"
log:
  level: warn
YAML
"$work/openfcs" serve --config "$work/openfcs.yaml" --apps "$work/apps" --rtmp 127.0.0.1:0 --http 127.0.0.1:0 \
  --log-format json --log-level info ${PROFILE:+--cpuprofile "$PROFILE"} 2> "$work/server.log" &
srv=$!
pids+=("$srv")
for _ in $(seq 100); do grep -q '"msg":"started"' "$work/server.log" && break; sleep 0.1; done
rtmp=$(grep '"proto":"rtmp"' "$work/server.log" | head -1 | sed 's/.*"addr":"\([^"]*\)".*/\1/')
http=$(grep '"proto":"http"' "$work/server.log" | head -1 | sed 's/.*"addr":"\([^"]*\)".*/\1/')
ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$work/x.flv" -c copy -f flv "rtmp://$rtmp/live/b" &
pids+=("$!")
sleep 2

ticks() { awk '{print $14+$15}' "/proc/$srv/stat"; }
hz=$(getconf CLK_TCK)
closed=0
printf '| viewers | server CPU %% of one core | viewers per core | Mbit/s per viewer |\n|---|---|---|---|\n'
for n in "${ns[@]}"; do
  mkfifo "$work/in.$n"
  "$work/floor-webrtc" recv -url "http://$http/whep/live/b" -n "$n" -life 80s < "$work/in.$n" > "$work/out.$n" &
  rp=$!
  pids+=("$rp")
  exec 7> "$work/in.$n"
  for _ in $(seq 600); do grep -q '^connected' "$work/out.$n" && break; sleep 0.1; done
  sleep 5
  echo >&7
  t0=$(ticks); s0=$(date +%s.%N)
  sleep 15
  echo >&7
  t1=$(ticks); s1=$(date +%s.%N)
  sleep 0.5
  exec 7>&-
  wait "$rp" 2>/dev/null || true
  # The receivers leave without closing their peers: the server still
  # sends to them until ICE declares them failed (about 30 s). Wait for
  # that, so the next count is not measured with these as extra viewers.
  closed=$((closed + n))
  for _ in $(seq 900); do
    [ "$(grep -c '"msg":"webrtc closed"' "$work/server.log")" -ge "$closed" ] && break
    sleep 0.1
  done
  # Why the sessions so far ended (peer_gone: the receivers left), and
  # the server's warnings, on stderr: a count whose viewers got little
  # says there why.
  echo "bench-webrtc: after $n viewers: sessions closed by reason: $(grep -o '"msg":"webrtc closed".*"reason":"[a-z_]*"' "$work/server.log" |
    sed 's/.*"reason":"//; s/"//' | sort | uniq -c | tr -s ' \n' ' ')" >&2
  grep '"level":"\(WARN\|ERROR\)"' "$work/server.log" | grep -v 'admin listener off' | tail -3 >&2 || true
  cpu=$(echo "($t1 - $t0) / $hz / ($s1 - $s0)" | bc -l)
  mbps=$(tail -2 "$work/out.$n" | python3 -c '
import json,sys
a,b=[json.loads(l) for l in sys.stdin.read().split("\n") if l.startswith("{")][-2:]
d=[y-x for x,y in zip(a["Bytes"],b["Bytes"])]
print("%.2f" % (sum(d)/len(d)*8/15/1e6))')
  printf '| %d | %.1f | %.0f | %s |\n' "$n" "$(echo "$cpu*100" | bc -l)" "$(echo "$n/$cpu" | bc -l)" "$mbps"
done
