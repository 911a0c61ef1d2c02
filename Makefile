# The README's commands. Every target installs what it needs first, and can run again safely.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# g++, make and python3: node-gyp builds node_pcap at npm ci and at make install.
APT_PACKAGES := libpcap-dev g++ make python3 tcpdump tshark tcpreplay iproute2 ethtool iputils-ping socat netcat-openbsd time inotify-tools chromium
export DEBIAN_FRONTEND := noninteractive
export TURBO_TELEMETRY_DISABLED := 1
export DO_NOT_TRACK := 1

# make install: where to (GNU conventions). DESTDIR stages the tree for a package build.
PREFIX ?= /usr/local
DESTDIR ?=
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
PACK_DIR ?= dist/packages

.PHONY: help setup deps build demo test bench lint typecheck check-packages install uninstall pack deb clean

help:
	@echo "make demo       setup, build, run the whole dispatcher in network namespaces for about a minute"
	@echo "make setup      install Debian packages (libpcap-dev tcpdump tshark tcpreplay ...) and npm ci"
	@echo "make test       setup, build, run every test; ends with 'N passed, N failed'"
	@echo "make bench      setup, build, run the benchmarks against their peers (tcpdump, ...);"
	@echo "                BENCH_QUICK=1: each once on small inputs, to see that it runs"
	@echo "make lint       biome, workspace dependency versions"
	@echo "make typecheck  tsc over every package, app and test file, configs and scripts"
	@echo "make check-packages  publint, @arethetypeswrong/cli and the API report of every published package"
	@echo "make install    sluice-master, sluice-node, sluice-pcap into PREFIX=$(PREFIX) (DESTDIR honoured):"
	@echo "                commands, man pages, JSON Schemas, systemd units; make uninstall removes them"
	@echo "make pack       npm pack of every published package into $(PACK_DIR)/ (npm install -g ./*.tgz)"
	@echo "make deb        a Debian package of make install PREFIX=/usr, in dist/"

setup: deps node_modules/.sluice-installed

# Installs only what is missing; answers wireshark-common's "non-root capture?" question with no.
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make setup: missing Debian packages:$$missing (run as root)"; exit 1; fi; \
	  echo "installing:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# npm ci only when package-lock.json changed since the last install.
node_modules/.sluice-installed: package-lock.json package.json
	scripts/npm-install.sh
	@touch $@

build: setup
	npx turbo run build --output-logs=errors-only

# DEMO_ARGS passes flags on, e.g. make demo DEMO_ARGS="--seconds 300 --strategy flow".
demo: build
	node apps/demo/dist/cli.js $(DEMO_ARGS)

test: build
	@mkdir -p .ci/out
	@rm -f .ci/out/vitest.json
	npx vitest run --reporter=default --reporter=json --outputFile.json=.ci/out/vitest.json; \
	  status=$$?; node scripts/test-summary.mjs .ci/out/vitest.json; exit $$status

# make bench BENCH_QUICK=1: every bench once on small inputs, to see that each runs to its end (its figures
# mean nothing). Each knob can still be set on its own; without BENCH_QUICK the benches' defaults hold.
ifdef BENCH_QUICK
export BENCH_RUNS ?= 1
export BENCH_CAPTURE_MB ?= 20
export BENCH_ROUTER_FILES ?= 20
export BENCH_ROUTER_MB ?= 1
export BENCH_FILES ?= 2
export BENCH_FIELDS_MB ?= 5
export BENCH_RATES ?= 50000,topspeed
export SLUICE_BENCH_DIR ?= /tmp/sluice-bench-quick
endif

bench: build
	npx turbo run bench --concurrency=1 --output-logs=full

# Biome over the repository, and every dependency on another workspace at a version it has.
lint: setup
	npx biome check .
	node scripts/check-workspace-deps.mjs

# Each package's tsconfig covers its sources and tests; the root one the configs, packaging and scripts.
typecheck: build
	npx turbo run typecheck --output-logs=errors-only --continue; packages=$$?; \
	  npx tsc -p tsconfig.json; root=$$?; exit $$((packages | root))

# publint and @arethetypeswrong/cli on every published package, as npm packs it; and its API report
# (packages/*/api, scripts/api-report.mjs) up to date with what it exports.
check-packages: build
	node scripts/check-packages.mjs; packages=$$?; \
	  node scripts/api-report.mjs --check; reports=$$?; exit $$((packages | reports))

# A real install under $(PREFIX)/lib/sluice, not links into this checkout: see packaging/install.mjs.
install: build
	node packaging/install.mjs install --prefix "$(PREFIX)" --destdir "$(DESTDIR)" --unit-dir "$(SYSTEMD_UNIT_DIR)"

uninstall:
	node packaging/install.mjs uninstall --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

# A Debian package of make install PREFIX=/usr: dist/sluice_<version>_<arch>.deb (packaging/deb.sh).
deb: build
	rm -rf dist/deb-root
	node packaging/install.mjs install --prefix /usr --destdir dist/deb-root
	packaging/deb.sh dist/deb-root dist
	rm -rf dist/deb-root

pack: build
	rm -f $(PACK_DIR)/*.tgz
	node packaging/pack.mjs $(PACK_DIR)

clean:
	rm -rf node_modules packages/*/dist apps/*/dist dist .turbo packages/*/.turbo apps/*/.turbo .ci/out
