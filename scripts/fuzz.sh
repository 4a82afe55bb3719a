#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME (default 10s) each.
# Targets are found with `go test -list '^Fuzz'` per package, since
# `go test -fuzz` accepts one package and one target at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
# Minimizing a multi-kilobyte input (a handshake) can eat the whole
# FUZZTIME; a short bound keeps every target fuzzing.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-2s}

count=0
failed=()
for pkg in $("$GO" list ./...); do
	# -list prints matching names, then "ok <pkg> ..."; keep only the names.
	if ! out=$("$GO" test -list '^Fuzz' "$pkg" 2>&1); then
		echo "fuzz: cannot list the tests of $pkg:" >&2
		echo "$out" >&2
		failed+=("$pkg (does not build)")
		continue
	fi
	targets=$(grep -E '^Fuzz' <<<"$out" || true)
	for target in $targets; do
		count=$((count + 1))
		echo "fuzz: $pkg $target for $FUZZTIME"
		if ! "$GO" test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZETIME" "$pkg"; then
			failed+=("$pkg.$target")
		fi
	done
done

echo "fuzz: ran $count targets"
if ((${#failed[@]} > 0)); then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	echo "fuzz: failing inputs are under the package's testdata/fuzz/<target>/" >&2
	exit 1
fi
