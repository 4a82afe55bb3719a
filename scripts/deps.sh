#!/usr/bin/env bash
# Installs the system packages that `make test` and the e2e suite need.
#
# Idempotent: every entry names a command that proves the package is there; a
# package is installed only when its command is missing, and `apt-get update`
# runs only when something must be installed. Fails loudly (non-zero exit)
# when a package cannot be installed or its command is still missing after.
#
# To add a package, add one line to PACKAGES below.
set -euo pipefail
# nginx lives in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# One line per package: "<command that must exist> <debian package>".
# Several commands may come from one package (ffmpeg ships ffprobe). An
# absolute path instead of a command names a file the package installs
# (an nginx module has no command of its own).
PACKAGES=(
	"ffmpeg ffmpeg"
	"ffprobe ffmpeg"
	"rtmpdump rtmpdump"
	"nginx nginx"
	"/usr/lib/nginx/modules/ngx_rtmp_module.so libnginx-mod-rtmp"
	"node nodejs"
	"npm npm"
	"/usr/bin/chromium chromium"
	"prometheus prometheus"
	"ip iproute2"
	"perf linux-perf"
)

# npm projects whose committed package-lock.json is installed with `npm ci`
# (the e2e suite's Chromium driver: playwright-core, flv.js). Skipped when
# node_modules already matches the lock file.
NPM_PROJECTS=(
	e2e/browser
)

# present reports whether a command (or, for an absolute path, a file) exists.
present() {
	if [[ $1 == /* ]]; then
		[[ -e $1 ]]
	else
		command -v "$1" >/dev/null 2>&1
	fi
}

log() { printf 'deps.sh: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

missing=()
for entry in "${PACKAGES[@]}"; do
	read -r cmd pkg <<<"$entry"
	if ! present "$cmd"; then
		# Skip duplicates (ffmpeg and ffprobe both come from ffmpeg).
		if [[ " ${missing[*]-} " != *" $pkg "* ]]; then
			missing+=("$pkg")
		fi
		log "missing '$cmd' (package $pkg)"
	fi
done

# npm_install runs `npm ci` in each NPM_PROJECTS folder whose installed
# tree differs from its lock file or is absent. npm ci writes
# node_modules/.package-lock.json last; an identical copy of the lock's
# packages means the install is current.
npm_install() {
	local root proj
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	for proj in "${NPM_PROJECTS[@]}"; do
		local dir="$root/$proj"
		[[ -f $dir/package-lock.json ]] || die "$proj/package-lock.json missing"
		if [[ -f $dir/node_modules/.package-lock.json ]] &&
			node -e 'const [a, b] = process.argv.slice(1).map((f) => { const p = { ...require(f).packages }; delete p[""]; return JSON.stringify(p); });
process.exit(a === b ? 0 : 1);' "$dir/package-lock.json" "$dir/node_modules/.package-lock.json" 2>/dev/null; then
			log "npm packages of $proj present"
			continue
		fi
		log "npm ci in $proj"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $proj failed"
	done
}

if ((${#missing[@]} == 0)); then
	log "all system packages present"
	npm_install
	exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null 2>&1 || die "not root and sudo is missing; install as root: apt-get install ${missing[*]}"
	SUDO=(sudo)
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
log "installing: ${missing[*]}"
"${SUDO[@]}" apt-get update -q || die "apt-get update failed"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" ||
	die "apt-get install ${missing[*]} failed"

# Verify: every command must now exist.
for entry in "${PACKAGES[@]}"; do
	read -r cmd pkg <<<"$entry"
	present "$cmd" || die "'$cmd' still missing after installing package $pkg"
done
npm_install
log "done"
