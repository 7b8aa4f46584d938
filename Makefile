# hx: every set-up step lives here, so a fresh machine needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := postgresql prometheus prometheus-alertmanager prometheus-node-exporter haproxy supervisor \
	chromium chromium-driver debootstrap systemd-container
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo lab lab-down test lint unit bench audit install install-test system-deps clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

# The LSTM forecaster's optional extra, PyTorch CPU, from the machine's wheel cache when it holds one (PyPI's
# default torch wheel pulls several GB of CUDA libraries); without it the LSTM's contract tests skip.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*+cpu-*.whl))

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@if [ -n "$(TORCH_WHEEL)" ]; then echo "installing $(notdir $(TORCH_WHEEL)) (the LSTM extra)"; \
	  $(BIN)/pip install -q "$(TORCH_WHEEL)"; fi
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian packages the integration tests need: PostgreSQL, Prometheus, Alertmanager, and debootstrap plus
# systemd-nspawn for the playbook's run on a real systemd host.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	command -v prometheus-node-exporter >/dev/null 2>&1 || missing="$$missing prometheus-node-exporter"; \
	command -v haproxy >/dev/null 2>&1 || missing="$$missing haproxy"; \
	command -v supervisord >/dev/null 2>&1 || missing="$$missing supervisor"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	command -v debootstrap >/dev/null 2>&1 || missing="$$missing debootstrap"; \
	command -v systemd-nspawn >/dev/null 2>&1 || missing="$$missing systemd-container"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

demo: install
	$(BIN)/hx demo

# A real fleet on this machine (HAProxy, supervisord + the sample service, node exporter, Prometheus, Alertmanager,
# NASA-trace load, hx serve with the fleet actuator) and a tour of its scenarios; `make lab-down` stops it.
lab: install system-deps
	$(BIN)/hx lab up
	$(BIN)/hx lab tour
	$(BIN)/hx lab status
	@echo "the lab keeps running: watch it with '$(BIN)/hx lab status', stop it with 'make lab-down'"

lab-down: install
	$(BIN)/hx lab down

lint: install-test
	$(BIN)/ruff check --output-format concise src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

unit: install-test
	$(BIN)/pytest -m "not integration"

# Two workers: the tests that start real servers (marked integration) run one after another on one of them, the
# rest on the other (tests/conftest.py); then the lab fleet's six tests alone, on the one lab they share (they judge
# real processes on wall-clock timings: a sample instance's start, a rollout's steps).
test: install-test system-deps lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not lab"
	$(BIN)/pytest -m lab

bench: install-test
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Known vulnerabilities in the installed dependencies (pip-audit against PyPI's advisory data, or OSV with
# AUDIT_SERVICE=osv). It needs https://pypi.org/pypi/<name>/<version>/json or api.osv.dev: run it where those are
# reachable (a developer machine, a CI runner with internet); it fails loudly, never silently, where they are not.
# No registry we reach ships a current vulnerability database to audit against offline (README, "Dependencies"):
# the probe below says so in one line (exit 2) before pip-audit would fail on its first lookup.
AUDIT_SERVICE ?= pypi
AUDIT_PROBE_pypi := https://pypi.org/pypi/pip/24.0/json
AUDIT_PROBE_osv := https://api.osv.dev/v1/vulns/PYSEC-2021-66
audit: install
	@$(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)' \
	  '$(AUDIT_PROBE_$(AUDIT_SERVICE))' 2>/dev/null || { echo "make audit: $(AUDIT_PROBE_$(AUDIT_SERVICE)) does not \
	answer from here, so the $(AUDIT_SERVICE) advisory lookup cannot run; run make audit where it answers (see the \
	README, Dependencies)" >&2; exit 2; }
	$(BIN)/pip install -q pip-audit
	$(BIN)/pip-audit --strict --vulnerability-service $(AUDIT_SERVICE) --skip-editable

clean:
	rm -rf $(VENV) .hx .hx-demo .mypy_cache .ruff_cache .pytest_cache
