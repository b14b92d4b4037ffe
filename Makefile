# Let's Live: `make dev` runs the whole platform locally, `make test` runs every test.
# Each install step is stamped, so a second run installs nothing that is already there.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EMU_VENV := .venv-emulator
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
# pip prints a warning for every package an absent extra index lacks; keep the output readable.
PIP_INSTALL = $(1)/bin/pip install --quiet --disable-pip-version-check
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# command:packages (comma-separated) installed from apt when the command is missing; an entry
# starting with / is a path that must merely exist (a module is no command).
# GStreamer (rtmpsink, rtmp2sink, x264enc) and OBS Studio (headless on Xvfb with software
# OpenGL) are real RTMP publishers the tests use; Chromium is the browser of the web app's
# end-to-end test (Playwright drives it; it downloads no browser). HAProxy stands in for the
# NLB in front of the local ingest workers (by path: /usr/sbin is not on every user's PATH).
# nginx with its RTMP module (and the stream module's TLS listener for RTMPS) is the restream
# destination the tests publish to, in place of Twitch or YouTube (tests/support/nginx_rtmp.py).
NGINX_MODULES := /usr/lib/nginx/modules
APT_TOOLS := ffmpeg:ffmpeg \
  gst-launch-1.0:gstreamer1.0-tools,gstreamer1.0-plugins-good,gstreamer1.0-plugins-bad,gstreamer1.0-plugins-ugly \
  obs:obs-studio Xvfb:xvfb \
  chromium:chromium /usr/sbin/haproxy:haproxy \
  /usr/sbin/nginx:nginx $(NGINX_MODULES)/ngx_rtmp_module.so:libnginx-mod-rtmp \
  $(NGINX_MODULES)/ngx_stream_module.so:libnginx-mod-stream
# The GStreamer elements the publisher tests use: a present `gst-launch-1.0` with a plugin set
# missing installs the sets again, and an element still missing afterwards fails the step.
GST_ELEMENTS := videotestsrc audiotestsrc x264enc voaacenc h264parse aacparse flvmux rtmpsink rtmp2sink
GST_PACKAGES := gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
# The web app (web/): its sources (and their folders, so a deleted file counts too), whose
# change triggers a rebuild of the static export.
WEB_SOURCES := $(shell find web/src web/public 2>/dev/null) \
  web/next.config.ts web/tsconfig.json web/eslint.config.mjs
export NEXT_TELEMETRY_DISABLED := 1

.PHONY: help dev test deps python emulator node system web web-check lint typecheck unit integration infra e2e \
        openapi bench synth deploy-aws clean

help:
	@echo "make dev    install what is missing, start the platform locally, print its URLs"
	@echo "make test   install what is missing, then ruff, mypy and every pytest suite"
	@echo "make bench  run the benchmarks under bench/"

# `make dev WORKERS=3`: three ingest workers behind the balancer. `make dev FRESH=1`: delete the
# local data (accounts, keys, VODs, chat: kept across runs otherwise) and start empty.
WORKERS ?= 1
dev: deps web
	$(PY) -m localstack.platform --workers $(WORKERS) $(if $(filter 1 yes true,$(FRESH)),--fresh)

test: deps web lint typecheck web-check
	$(PY) -m pytest tests --durations=30

deps: python emulator node system

python: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(call PIP_INSTALL,$(VENV)) -e '.[http,ingest,media,dev]' 2> >(grep -v 'is ignored: it is neither' >&2)
	touch $@

emulator: $(EMU_VENV)/.stamp
$(EMU_VENV)/.stamp: localstack/requirements.txt
	[ -x $(EMU_VENV)/bin/python ] || $(PYTHON) -m venv $(EMU_VENV)
	$(call PIP_INSTALL,$(EMU_VENV)) -r localstack/requirements.txt 2> >(grep -v 'is ignored: it is neither' >&2)
	touch $@

node: node_modules/.stamp
node_modules/.stamp: package.json package-lock.json
	command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The web app: `npm ci` when its lockfile changes, the static export (web/out) when a source does.
web: web/.build.stamp
web/node_modules/.stamp: web/package.json web/package-lock.json
	command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@
web/.build.stamp: web/node_modules/.stamp $(WEB_SOURCES)
	cd web && npm run --silent build
	touch $@

# The web app: its generated API types match openapi.json (else `cd web && npm run generate:api`),
# TypeScript (strict), ESLint (import cycles included).
web-check: web/node_modules/.stamp
	cd web && npm run --silent check:api && npm run --silent typecheck && npm run --silent lint

# System packages from apt, installed only when a command (or path) is missing. No service of
# theirs may start: the tests run private instances, and nginx's postinst starts the system nginx
# on port 80 (and fails the install when that start fails). So a policy-rc.d (when the machine
# has none) denies service starts while apt runs, and a freshly installed nginx is not started
# at boot either.
system:
	@missing=""; for pair in $(APT_TOOLS); do \
	  tool="$${pair%%:*}"; \
	  case "$$tool" in /*) [ -e "$$tool" ];; *) command -v "$$tool" >/dev/null;; esac \
	    || { pkgs="$${pair#*:}"; missing="$$missing $${pkgs//,/ }"; }; \
	done; \
	if command -v gst-inspect-1.0 >/dev/null; then \
	  for element in $(GST_ELEMENTS); do \
	    gst-inspect-1.0 --exists "$$element" || { missing="$$missing $(GST_PACKAGES)"; break; }; \
	  done; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    trap '$(SUDO) rm -f /usr/sbin/policy-rc.d' EXIT; \
	    printf '#!/bin/sh\n# make system: no service starts while it installs\nexit 101\n' \
	      | $(SUDO) install -m 755 /dev/stdin /usr/sbin/policy-rc.d; \
	  fi; \
	  $(SUDO) apt-get update -qq; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  if [[ " $$missing " == *" nginx "* ]]; then \
	    { if command -v systemctl >/dev/null; then $(SUDO) systemctl disable --quiet nginx; \
	      else $(SUDO) update-rc.d nginx disable; fi; } || echo "note: the system nginx could not be disabled at boot"; \
	  fi; \
	fi; \
	for element in $(GST_ELEMENTS); do \
	  gst-inspect-1.0 --exists "$$element" || { echo "GStreamer element $$element is missing after installing $(GST_PACKAGES)"; exit 1; }; \
	done

# Ruff, and the layering contracts of .importlinter (entry points -> services -> data -> models).
lint: python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: python
	$(VENV)/bin/mypy layers functions workers infra localstack bench tests

# Both suites run real ffmpeg and GStreamer (and integration the emulator): missing, they fail.
unit: python system
	$(PY) -m pytest tests/unit
integration: python emulator system
	$(PY) -m pytest tests/integration
infra: python node web
	$(PY) -m pytest tests/infra
e2e: deps web
	$(PY) -m pytest tests/e2e

# The OpenAPI document of every HTTP service; a unit test fails when it is stale.
openapi: python
	$(PY) -m functions.openapi

bench: deps web
	$(PY) bench/coldstart.py
	$(PY) bench/accounts.py
	$(PY) -m bench.ingest_latency
	$(PY) -m bench.ingest_abuse
	$(PY) -m bench.latency_browser
	$(PY) -m bench.chat_fanout
	$(PY) bench/ladder.py
	$(PY) -m bench.rewind
	$(PY) -m bench.restream
	$(PY) -m bench.clip_download

# `nag=true`: any unacknowledged cdk-nag finding fails the synth (and the deploy below).
synth: python node web
	node_modules/.bin/cdk synth --quiet -c nag=true

# Deploy to the AWS account of the current credentials (see docs/deploy.md: bootstrap first).
deploy-aws: python node web
	node_modules/.bin/cdk deploy --all --require-approval never -c nag=true

clean:
	rm -rf cdk.out .build .local .mypy_cache .ruff_cache .pytest_cache web/.next web/out web/.build.stamp
