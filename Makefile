# openfcs build, test and tooling entry points (docs/architecture.md#conventions).
#
#   make run     build and start the server with the bundled applications/live
#   make test    system deps, vet, gofmt, doc links, unit tests (-race -shuffle; node --test for web/), benchmarks once, e2e
#   make e2e     only the end-to-end suite (real binary, ffmpeg, rtmpdump)
#   make bench   benchmarks with allocation counts
#   make bench-compare  openfcs against Debian's nginx-rtmp, 150 rtmpdump players, CPU per delivered byte
#   make fuzz    every fuzz target for FUZZTIME each
#   make soak    200 mixed clients with churn for SOAK (default 1h); RSS, goroutines, fds must stay flat
#   make lint    go vet + gofmt check + golangci-lint (pinned)
#   make install binary, config, demo apps, systemd unit (PREFIX, DESTDIR; docs/operations.md#packaging)
#   make dist    release archives for linux/amd64 and linux/arm64 in dist/

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO            ?= go
BIN           ?= bin/openfcs
APPS          ?= ./applications
RTMP_ADDR     ?= :1935
HTTP_ADDR     ?= :8080
# TLS port of `make run`: RTMPS, RTMPTS, HTTPS (TCP) and HTTP/3 (UDP). Give
# TLS_CERT and TLS_KEY for a real certificate; without them `make run`
# generates a self-signed development pair (DEV_CERT, DEV_KEY).
TLS_ADDR      ?= :8443
TLS_CERT      ?=
TLS_KEY       ?=
DEV_CERT      ?= bin/dev-cert.pem
DEV_KEY       ?= bin/dev-key.pem
# Admin listener of `make run` (admin API, /metrics): its token is made once
# into ADMIN_TOKEN_FILE unless OPENFCS_ADMIN_TOKEN is set.
ADMIN_ADDR    ?= 127.0.0.1:8086
ADMIN_TOKEN_FILE ?= bin/admin-token
RUN_TLS_CERT   = $(if $(TLS_CERT),$(TLS_CERT),$(DEV_CERT))
RUN_TLS_KEY    = $(if $(TLS_KEY),$(TLS_KEY),$(DEV_KEY))
FUZZTIME      ?= 10s
# make soak: how long, and the go test timeout around it.
SOAK          ?= 1h
SOAK_TIMEOUT  ?= 3h
UNIT_TIMEOUT  ?= 10m
E2E_TIMEOUT   ?= 30m
E2E_PARALLEL  ?= 8
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

# Install layout (make install): the binary in $(PREFIX)/bin, the
# configuration in $(SYSCONFDIR)/openfcs, the applications folder in
# $(STATEDIR) (the service's working directory), the unit in $(UNITDIR).
# Files already there (configuration, environment, applications) are kept.
PREFIX        ?= /usr/local
SYSCONFDIR    ?= /etc
STATEDIR      ?= /var/lib/openfcs
UNITDIR       ?= /lib/systemd/system
DOCDIR        ?= $(PREFIX)/share/doc/openfcs
DESTDIR       ?=
DIST_PLATFORMS ?= linux/amd64 linux/arm64

# Every Go file we own, for the gofmt check (testdata may hold broken Go on purpose).
GOFILES = $(shell find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './node_modules/*')

.PHONY: dev-cert
dev-cert:
	$(GO) run ./internal/tlsutil/gencert -cert $(DEV_CERT) -key $(DEV_KEY)

.PHONY: all build run deps vet fmt fmt-check docs unit web-test bench-once test e2e bench bench-compare fuzz lint clean install dist

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/openfcs

# The lead commits applications/live/; mkdir keeps `make run` working in any checkout.
run: build
	@mkdir -p $(APPS)/live
	@port=$(RTMP_ADDR); port=$${port##*:}; hport=$(HTTP_ADDR); hport=$${hport##*:}; \
	echo "openfcs: applications in $(APPS)"; \
	echo "  publish: ffmpeg -re -f lavfi -i testsrc=size=640x360:rate=25 -f lavfi -i sine -c:v libx264 -c:a aac -f flv rtmp://127.0.0.1:$$port/live/stream"; \
	echo "  play:    ffplay rtmp://127.0.0.1:$$port/live/stream"; \
	echo "           rtmpdump -v -r rtmp://127.0.0.1:$$port/live/stream -o - | ffplay -"; \
	echo "  http:    http://127.0.0.1:$$hport/   (the index of the applications)"; \
	echo "           ffplay http://127.0.0.1:$$hport/live/stream.flv   (HTTP-FLV)"; \
	echo "  ws:      ws://127.0.0.1:$$hport/rtmp   (RTMP over WebSocket, for the browser library /openfcs.js)"; \
	echo "demo apps (applications/*/main.asc, Server-Side ActionScript):"; \
	echo "  auth:    publish with ffmpeg ... -rtmp_conn \"S:alice S:secret\" -f flv rtmp://127.0.0.1:$$port/auth/room/stream, then"; \
	echo "           rtmpdump -v -r rtmp://127.0.0.1:$$port/auth/room/stream -C S:alice -C S:secret -o - | ffplay -   (wrong password: rejected, rtmpdump -V shows why)"; \
	echo "  rpc:     rtmp://127.0.0.1:$$port/rpc   NetConnection.call(\"add\", responder, 2, 3) -> 5; askClient(q) calls back the client"; \
	echo "  chat:    rtmp://127.0.0.1:$$port/chat  connect argument: your name; remote SharedObject \"chat\", call say(text)"; \
	echo "  room:    http://127.0.0.1:$$hport/room/demo   a meeting room (people, chat, whiteboard, video): open it in two tabs"
	@tport=$(TLS_ADDR); tport=$${tport##*:}; port=$(RTMP_ADDR); port=$${port##*:}; \
	echo "  rtmpt:   ffplay rtmpt://127.0.0.1:$$port/live/stream   (RTMP and RTMPT share every port)"; \
	echo "  tls:     ffplay rtmps://127.0.0.1:$$tport/live/stream, rtmpts://127.0.0.1:$$tport/live/stream (HTTP/3 on UDP $$tport)"
	@if [ -z "$(TLS_CERT)" ]; then $(GO) run ./internal/tlsutil/gencert -cert $(DEV_CERT) -key $(DEV_KEY); fi
	@if [ -z "$${OPENFCS_ADMIN_TOKEN:-}" ] && [ ! -s $(ADMIN_TOKEN_FILE) ]; then \
		(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > $(ADMIN_TOKEN_FILE)); fi
	@echo "  admin:   curl -H \"Authorization: Bearer \$$(cat $(ADMIN_TOKEN_FILE))\" http://$(ADMIN_ADDR)/admin/getServerStats   (docs/operations.md)"
	OPENFCS_ADMIN_TOKEN=$${OPENFCS_ADMIN_TOKEN:-$$(cat $(ADMIN_TOKEN_FILE))} exec ./$(BIN) serve --rtmp $(RTMP_ADDR) --http $(HTTP_ADDR) --admin $(ADMIN_ADDR) --apps $(APPS) --tls $(TLS_ADDR) --tls-cert $(RUN_TLS_CERT) --tls-key $(RUN_TLS_KEY)

deps:
	./scripts/deps.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags "e2e soak" ./e2e/...

fmt:
	gofmt -w $(GOFILES)

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$out" ]; then echo "gofmt: these files are not formatted (run make fmt):"; echo "$$out"; exit 1; fi

# Every docs/<file>.md#anchor cited by code, READMEs, openfcs.yaml and docs/
# must exist, and nothing cites section numbers or tracker issues
# (internal/doccheck). Also part of unit; run first so a broken link is
# reported at once.
docs:
	$(GO) test -count=1 ./internal/doccheck

unit: web-test
	$(GO) test -race -shuffle=on -timeout $(UNIT_TIMEOUT) ./...
	# Stack-size guards measure frames as shipped: the race detector enlarges them.
	$(GO) test -count=1 -run 'TestIdleConnStack' ./rtmp/

# The browser library's own tests (docs/browser.md#tests): node's test
# runner on the wire layers' hex vectors, shared with the Go packages.
web-test:
	@command -v node >/dev/null || { echo "node is missing: run scripts/deps.sh"; exit 1; }
	node --test web/test/*.test.js

# Run every benchmark once so that they cannot rot; timings are not asserted.
bench-once:
	$(GO) test -run='^$$' -bench=. -benchtime=1x -timeout $(UNIT_TIMEOUT) ./...

# e2e tests carry the `e2e` build tag so that `go test ./...` stays fast.
# They mostly wait on real time (ffmpeg -re), hence -parallel above the core count.
e2e: deps
	$(GO) test -race -tags e2e -count=1 -v -parallel $(E2E_PARALLEL) -timeout $(E2E_TIMEOUT) ./e2e/...

test: deps vet fmt-check lint docs unit bench-once e2e

# The soak test is behind the `soak` build tag, so neither make test nor make
# e2e runs it. No -race: it measures the server as it runs in production
# (built without -race by the test) under 200 clients of the test process.
soak: deps
	SOAK=$(SOAK) $(GO) test -tags 'e2e soak' -count=1 -v -timeout $(SOAK_TIMEOUT) -run '^TestSoak$$' ./e2e/

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# openfcs and nginx-rtmp side by side: CPU per delivered Gbit of each and
# the ratio (scripts/bench-compare.sh; PLAYERS, WINDOW, ROUNDS tune it).
bench-compare: deps
	GO=$(GO) ./scripts/bench-compare.sh

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

lint: vet fmt-check
	$(GOLANGCI_LINT) run ./...

clean:
	rm -rf bin dist

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/openfcs $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(STATEDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/openfcs
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/openfcs/openfcs.yaml ]; then echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/openfcs/openfcs.yaml"; \
	else install -m 0644 openfcs.yaml $(DESTDIR)$(SYSCONFDIR)/openfcs/openfcs.yaml; fi
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/openfcs/openfcs.env ]; then echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/openfcs/openfcs.env"; \
	else (umask 077; sed "s/^OPENFCS_ADMIN_TOKEN=.*/OPENFCS_ADMIN_TOKEN=$$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')/" contrib/openfcs.env \
		> $(DESTDIR)$(SYSCONFDIR)/openfcs/openfcs.env); echo "install: admin token in $(DESTDIR)$(SYSCONFDIR)/openfcs/openfcs.env"; fi
	@for app in $$(ls $(APPS)); do \
		if [ -e $(DESTDIR)$(STATEDIR)/applications/$$app ]; then echo "install: keeping application $$app"; \
		else install -d $(DESTDIR)$(STATEDIR)/applications/$$app && \
			tar -C $(APPS)/$$app --exclude=./streams --exclude=./sharedobjects -cf - . | tar -C $(DESTDIR)$(STATEDIR)/applications/$$app -xf -; fi; done
	sed -e 's|/usr/local/bin/openfcs|$(PREFIX)/bin/openfcs|' -e 's|/etc/openfcs/|$(SYSCONFDIR)/openfcs/|g' \
		-e 's|/var/lib/openfcs|$(STATEDIR)|g' -e 's|/usr/local/share/doc/openfcs|$(DOCDIR)|' \
		contrib/openfcs.service > $(DESTDIR)$(UNITDIR)/openfcs.service
	install -m 0644 README.md docs/operations.md docs/admin-api.yaml $(DESTDIR)$(DOCDIR)/
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		id openfcs >/dev/null 2>&1 || useradd --system --home-dir $(STATEDIR) --shell /usr/sbin/nologin openfcs; \
		chown -R openfcs:openfcs $(STATEDIR); chgrp openfcs $(SYSCONFDIR)/openfcs/openfcs.env; chmod 0640 $(SYSCONFDIR)/openfcs/openfcs.env; \
		echo "install: now systemctl daemon-reload && systemctl enable --now openfcs"; fi

# Release archives: a static binary per platform with the configuration,
# the demo applications (without what `make run` recorded or stored), the
# unit and the documentation, and their SHA-256 sums. Built with
# -trimpath, without cgo.
dist:
	@rm -rf dist && mkdir -p dist
	@for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; name=openfcs-$(VERSION)-$$os-$$arch; d=dist/$$name; \
		echo "dist: $$name"; mkdir -p $$d/contrib $$d/docs; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $$d/openfcs ./cmd/openfcs; \
		mkdir -p $$d/applications; tar -C $(APPS) --exclude='./*/streams' --exclude='./*/sharedobjects' -cf - . | tar -C $$d/applications -xf -; \
		cp openfcs.yaml README.md $$d/; cp contrib/openfcs.service contrib/openfcs.env $$d/contrib/; \
		cp docs/operations.md docs/admin-api.yaml $$d/docs/; \
		tar -C dist -czf dist/$$name.tar.gz --owner=0 --group=0 --sort=name $$name; rm -rf $$d; \
	done
	cd dist && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS
