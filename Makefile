# robotctl developer entry points. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEBIAN_PY := /usr/bin/python3
CONSOLE_JS := gateway/console/vendor/socket.io.min.js

.PHONY: run check test lint test-unit test-integration test-browser test-debian test-system vermin deb bench soak console clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements-dev.txt
	@# Editable: .venv/bin/robotctl runs this checkout's code.
	$(VPY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## run: start gateway, executor and the dev supervisor in the foreground (Ctrl+C stops all)
run: $(STAMP) $(CONSOLE_JS)
	$(VPY) -m shared.devsupervisor $(if $(ROBOTCTL_CONFIG),--config $(ROBOTCTL_CONFIG),--dev)

## check: what a contributor runs before a commit, in a few minutes, without root
check: lint vermin test-unit test-integration

## test: the full CI run. Off CI (CI unset) a tier this machine cannot run (Debian's
## packages, Chromium, root for the system and shaped-link tests) is skipped with a line
## saying what to install; under CI=true (.ci/run) it fails instead.
test: lint vermin test-unit test-integration test-browser test-debian test-system

lint: $(STAMP)
	$(VENV)/bin/ruff check gateway executor shared tests
	@# What it checks and how strictly: [tool.mypy] in pyproject.toml.
	$(VENV)/bin/mypy

vermin: $(STAMP)
	$(VENV)/bin/vermin -q -t=3.8- --no-tips --violations --eval-annotations --backport dataclasses --exclude-regex 'syntax_error/main\.py$$' --exclude-regex 'node_modules' gateway executor shared tests

test-unit: $(STAMP)
	$(VPY) -m pytest -q -rs tests/unit

test-integration: $(STAMP)
	$(VPY) -m pytest -q -rs tests/integration

## test-browser: the web console in headless Chromium
test-browser: $(STAMP)
	$(VPY) -m pytest -q -rs tests/browser

## test-debian: the integration suite on Debian bookworm's python3-* packages
test-debian:
	@if [ -x $(DEBIAN_PY) ]; then $(DEBIAN_PY) tests/debian_tier.py; \
	elif [ "$$CI" = true ]; then echo "debian tier: FAILED: no $(DEBIAN_PY)"; exit 1; \
	else echo "debian tier: skipped (CI is not set): no $(DEBIAN_PY); it needs Debian bookworm"; fi

## test-system: install the .deb on a real systemd in a container (root + systemd-nspawn)
test-system: $(STAMP)
	$(VPY) -m pytest -q -rs tests/system

## bench: robotctl next to the bare stack, side by side (table + bench-results/)
bench: $(STAMP)
	$(VPY) -m tests.bench

## soak: minutes of 100 Hz pushes, 50 calls/s and reconnects; RSS and fds must stay flat
## (SOAK_SECONDS=N, default 300)
soak: $(STAMP)
	$(VPY) -m tests.soak $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS))

deb: $(CONSOLE_JS)
	@# Build from a temporary copy of the tracked (and new, unignored) files plus the
	@# built console client, so the build never writes into the checkout; the
	@# artefacts land in dist/.
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; mkdir "$$tmp/src"; \
	git ls-files -z --cached --others --exclude-standard \
	  | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$$tmp/src"; \
	cp --parents $(CONSOLE_JS) "$$tmp/src"; \
	(cd "$$tmp/src" && dpkg-buildpackage -us -uc -b); \
	mkdir -p dist; mv "$$tmp"/*.deb "$$tmp"/*.buildinfo "$$tmp"/*.changes dist/; \
	lintian --fail-on error,warning dist/robotctl_$$(dpkg-parsechangelog -S Version)_all.deb

## console: the web console's vendored Socket.IO client (npm ci from the committed lock file)
console: $(CONSOLE_JS)

$(CONSOLE_JS): gateway/console/package-lock.json
	cd gateway/console && npm ci --no-audit --no-fund && mkdir -p vendor && cp node_modules/socket.io-client/dist/socket.io.min.js vendor/

clean:
	rm -rf $(VENV) .run dist .pytest_cache .mypy_cache
