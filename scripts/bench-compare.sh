#!/usr/bin/env bash
# Compares what openfcs and Debian's nginx-rtmp (libnginx-mod-rtmp) spend
# to deliver one live stream to many rtmpdump players, side by side on this
# machine (docs/architecture.md#egress).
#
# One ffmpeg publisher sends a ~1.1 Mbit/s H.264+AAC stream (a file encoded
# once, looped with -c copy, so the publisher costs little); PLAYERS
# rtmpdump players play it. For each server, after WARMUP, the script
# measures over WINDOW seconds:
#   - the server's CPU time (user+system, every process of it, /proc/PID/stat)
#   - the bytes it delivered (the sum of bytes_sent of the TCP connections
#     on its port, from ss: what the players' sockets carried)
# and prints the CPU per delivered Gbit of each run. Servers alternate
# (nginx, openfcs, nginx, ...) for ROUNDS rounds, so that the load of a
# shared machine falls on both alike; the ratio printed last is the
# median of openfcs's runs over the median of nginx's.
#
#   make bench-compare                       (PLAYERS=150 WINDOW=12 ROUNDS=3)
#   PLAYERS=300 ROUNDS=5 scripts/bench-compare.sh
#   PERF=/tmp/prof scripts/bench-compare.sh  (also records each openfcs
#       window with perf record -g into that folder: where the server's
#       CPU goes, kernel included; those rounds' figures carry perf's cost)
#
# Needs ffmpeg, rtmpdump, nginx and libnginx-mod-rtmp (scripts/deps.sh); a
# missing one fails the run.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

PLAYERS=${PLAYERS:-150}
WINDOW=${WINDOW:-12}
WARMUP=${WARMUP:-4}
ROUNDS=${ROUNDS:-3}
GO=${GO:-go}
NGINX_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf 'bench-compare: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

for cmd in ffmpeg rtmpdump nginx ss python3; do
	command -v "$cmd" >/dev/null || die "$cmd is missing: run scripts/deps.sh"
done
[[ -e $NGINX_MODULE ]] || die "$NGINX_MODULE is missing (libnginx-mod-rtmp): run scripts/deps.sh"
clk_tck=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/openfcs-bench-compare.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]-}"; do
		[[ -n $p ]] && kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

log "building openfcs"
(cd "$root" && "$GO" build -o "$work/openfcs-bin" ./cmd/openfcs) || die "go build failed"

# The stream: 20 s of 640x360 25 fps H.264 (2 s GOPs, ~1 Mbit/s) and AAC,
# encoded once and kept in bin/ for the next run.
stream=$root/bin/bench-compare-stream.flv
if [[ ! -s $stream ]]; then
	log "encoding the test stream (once) into $stream"
	mkdir -p "$root/bin"
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i "testsrc2=size=640x360:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=44100" \
		-t 20 -c:v libx264 -preset veryfast -b:v 1000k -maxrate 1000k -bufsize 1000k -g 50 -keyint_min 50 \
		-sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 96k -f flv "$stream.tmp" || die "encoding the test stream failed"
	mv "$stream.tmp" "$stream"
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port waits until something accepts on 127.0.0.1:$1.
wait_port() {
	local i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	die "nothing listens on port $1"
}

# cpu_ticks sums utime+stime of the given pids (clock ticks).
cpu_ticks() {
	local p sum=0
	for p in "$@"; do
		read -r -a f <"/proc/$p/stat" || die "process $p is gone"
		# Fields after the command name "(...)": utime is 14, stime 15.
		local rest=${f[*]}
		rest=${rest##*) }
		read -r -a g <<<"$rest"
		sum=$((sum + g[11] + g[12]))
	done
	echo "$sum"
}

# bytes_sent sums what the established TCP connections of local port $1
# have sent.
bytes_sent() {
	ss -tinH state established "( sport = :$1 )" | grep -o 'bytes_sent:[0-9]*' |
		awk -F: '{ s += $2 } END { printf "%d\n", s }'
}

# start_server <name> <port> starts a server and sets spids to the pids to
# measure. Everything started here runs in this shell (not in a command
# substitution, which would wait for it), with stdout away from ours.
start_server() {
	local name=$1 port=$2 dir=$work/run-$1
	mkdir -p "$dir"
	case $name in
	nginx)
		cat >"$dir/nginx.conf" <<EOF
load_module $NGINX_MODULE;
worker_processes 1;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
rtmp {
	server {
		listen 127.0.0.1:$port;
		application live {
			live on;
		}
	}
}
EOF
		nginx -p "$dir" -c "$dir/nginx.conf" -g "daemon off;" >/dev/null 2>"$dir/stderr.log" &
		;;
	openfcs)
		mkdir -p "$dir/apps/live"
		aport=$(free_port)
		OPENFCS_ADMIN_TOKEN=bench-compare "$work/openfcs-bin" serve --rtmp "127.0.0.1:$port" --http "" \
			--admin "127.0.0.1:$aport" --apps "$dir/apps" --log-format json >/dev/null 2>"$dir/stderr.log" &
		;;
	esac
	local master=$!
	pids+=("$master")
	wait_port "$port"
	spids=("$master")
	if [[ $name == nginx ]]; then
		local c
		for c in $(pgrep -P "$master"); do spids+=("$c"); done
	fi
}

# run_one <name> sets run to "<cpu seconds> <bytes> <seconds>" for one run.
run_one() {
	local name=$1 port aport
	port=$(free_port)
	start_server "$name" "$port"
	local url="rtmp://127.0.0.1:$port/live/bench"
	ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$stream" -c copy -f flv "$url" \
		</dev/null >/dev/null 2>"$work/run-$name/ffmpeg.log" &
	local pub=$!
	pids+=("$pub")
	sleep 1
	local players=() i
	for i in $(seq "$PLAYERS"); do
		rtmpdump -q -v -r "$url" -o /dev/null </dev/null >/dev/null 2>&1 &
		players+=("$!")
		pids+=("$!")
		# Ten at a time: a burst of handshakes is not what is measured.
		if ((i % 10 == 0)); then sleep 0.1; fi
	done
	sleep "$WARMUP"
	local alive=0 p
	for p in "${players[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	((alive == PLAYERS)) || die "$name: only $alive of $PLAYERS players are running"
	local c0 b0 t0 c1 b1 t1
	c0=$(cpu_ticks "${spids[@]}")
	b0=$(bytes_sent "$port")
	t0=$(date +%s.%N)
	if [[ -n ${PERF-} && $name == openfcs ]]; then
		mkdir -p "$PERF"
		perf record -q -F 999 -g -o "$PERF/openfcs-round$round.data" -p "${spids[0]}" -- sleep "$WINDOW" >/dev/null 2>&1 ||
			die "perf record failed (scripts/deps.sh installs perf; it needs root or kernel.perf_event_paranoid <= 1)"
	else
		sleep "$WINDOW"
	fi
	c1=$(cpu_ticks "${spids[@]}")
	b1=$(bytes_sent "$port")
	t1=$(date +%s.%N)
	alive=0
	for p in "${players[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	((alive == PLAYERS)) || die "$name: only $alive of $PLAYERS players lasted the window"
	if [[ $name == openfcs ]]; then
		# How the writes went (clock rounds written at once, rounds that had
		# to wait for a socket, rounds on writer goroutines): a diagnosis,
		# not a figure of the comparison.
		python3 -c 'import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer bench-compare"})
e = json.load(urllib.request.urlopen(req))["egress"]
print("bench-compare: openfcs egress since start: %(clock_rounds)d clock rounds, %(clock_waits)d waited for a socket, %(goroutine_rounds)d goroutine rounds" % e, file=sys.stderr)' \
			"http://127.0.0.1:$aport/admin/api/v1/server" || log "openfcs admin API unavailable"
	fi
	kill "${players[@]}" "$pub" 2>/dev/null || true
	kill "${spids[0]}" 2>/dev/null || true
	wait "${players[@]}" "$pub" "${spids[0]}" 2>/dev/null || true
	pids=()
	run=$(awk -v c=$((c1 - c0)) -v hz="$clk_tck" -v b=$((b1 - b0)) -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "%.3f %d %.3f\n", c / hz, b, t1 - t0 }')
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

log "$PLAYERS rtmpdump players, ${WINDOW}s windows after ${WARMUP}s, $ROUNDS rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %5s %9s %10s %10s %12s\n' server round cpu-s Mbit/s %core cpu-s/Gbit
results=$work/results
: >"$results"
for round in $(seq "$ROUNDS"); do
	for name in nginx openfcs; do
		run_one "$name"
		read -r cpu bytes secs <<<"$run"
		awk -v n="$name" -v r="$round" -v c="$cpu" -v b="$bytes" -v s="$secs" 'BEGIN {
			g = b * 8 / 1e9
			if (g <= 0) { print "bench-compare: ERROR: " n " delivered nothing" > "/dev/stderr"; exit 1 }
			printf "%-8s %5d %9.3f %10.1f %10.2f %12.4f\n", n, r, c, b * 8 / s / 1e6, c / s * 100, c / g
		}' | tee -a "$results"
	done
done
nginx_med=$(awk '$1 == "nginx" { print $6 }' "$results" | median)
ofcs_med=$(awk '$1 == "openfcs" { print $6 }' "$results" | median)
awk -v a="$ofcs_med" -v b="$nginx_med" 'BEGIN {
	printf "median cpu-s/Gbit: openfcs %.4f, nginx-rtmp %.4f; openfcs / nginx-rtmp = %.2f\n", a, b, a / b
}'
