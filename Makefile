# Two commands do all set-up on a fresh machine: `make app` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8866
# constraints.txt pins torch==2.13.0 (a local CPU build here; an unpinned torch pulls 5 GB of CUDA).
PIP_INSTALL := $(PY) -m pip install -q -c constraints.txt
# One BLAS thread per kernel: every student has a kernel, and idle BLAS threads spinning in
# dozens of processes cost ~30 % more CPU (measured); the explorers' own thread pool stays.
KERNEL_ENV := OPENBLAS_NUM_THREADS=1

.PHONY: app classroom hub hub-prestart test venv browser benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Stamps: re-install only when the dependency lists change.
TEMPLATE := share/jupyter/voila/templates/explorer
$(VENV)/.app-installed: $(PY) pyproject.toml constraints.txt $(wildcard $(TEMPLATE)/*)
	$(PIP_INSTALL) -e .
	# An editable install skips data files: put the Voila template where Voila looks (the venv prefix).
	mkdir -p $(VENV)/$(TEMPLATE) && cp $(TEMPLATE)/* $(VENV)/$(TEMPLATE)/
	# The scripts a page loads, compressed once with Brotli at its slowest, best level (~15 s)
	# into the venv's cache, so that no server does it while a class waits (explorer/serving/static_files.py).
	$(PY) -m explorer.serving.static_files
	touch $@

# axe-core (the browser tests' accessibility checks) from npm into tests/browser/node_modules, at the
# versions of tests/browser/package-lock.json (never global).
$(VENV)/.test-installed: $(VENV)/.app-installed tests/browser/package.json tests/browser/package-lock.json
	$(PIP_INSTALL) -e '.[test]'
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# JupyterHub and its idle culler from PyPI; the proxy (configurable-http-proxy) from npm into
# deploy/hub/node_modules, at the versions of deploy/hub/package-lock.json (never global).
$(VENV)/.hub-installed: $(VENV)/.app-installed deploy/hub/package.json deploy/hub/package-lock.json
	$(PIP_INSTALL) -e '.[hub]'
	cd deploy/hub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.app-installed

# Voila with its tornado_settings applied (compressed responses) and BokehJS as a cached file:
# explorer/serving/voila_app.py; same options and voila.json as the `voila` command.
VOILA := $(PY) -m explorer.serving.voila_app

app: $(VENV)/.app-installed
	# Server settings (address, template, sources hidden, idle-kernel culling, compression) live in voila.json.
	@echo "Start page: http://127.0.0.1:$(PORT)/  (RBM explorer: /voila/render/rbm_explorer.ipynb, VAE explorer: /voila/render/vae_explorer.ipynb)"
	$(KERNEL_ENV) $(VOILA) notebooks/ --port=$(PORT)

# A class opening the explorer at once: Voila keeps kernels that have already built the explorer
# (pool sizes per notebook in voila.json: make them the class size + 2). See docs/classroom.md.
# The class service (explorer/serving/class_service.py) starts beside Voila: the teacher's board
# (link printed, with the teacher's secret CLASS_TEACHER_SECRET, generated when unset), live
# predictions and "follow the teacher"; answers kept in CLASS_DB (.classroom/class.sqlite).
classroom: $(VENV)/.app-installed
	@echo "Preheating kernels (pools in voila.json); start page: http://127.0.0.1:$(PORT)/"
	$(KERNEL_ENV) $(PY) -m explorer.serving.classroom notebooks/ --port=$(PORT) --preheat_kernel=True

# A course through JupyterHub at http://127.0.0.1:8000 (deploy/hub/jupyterhub_config.py, docs/hub.md):
# any user name + the class password HUB_PASSWORD (generated and printed when unset); HUB_ADMIN names
# the teacher's admin account (password HUB_ADMIN_PASSWORD, 32+ characters, generated when unset).
# HUB_JUPYTERLAB=1 also gives the students JupyterLab (/user/<name>/lab); by default their servers load
# only Voila and what the explorers need.
hub: $(VENV)/.hub-installed
	@echo "JupyterHub: http://127.0.0.1:$${HUB_PORT:-8000}/  (state, passwords and students' folders in $${HUB_STATE_DIR:-.hub/})"
	$(KERNEL_ENV) $(VENV)/bin/jupyterhub -f deploy/hub/jupyterhub_config.py

# Before the lesson, with the hub running: start the servers of a roster (one user name per line),
# through the hub's REST API with the token the hub keeps in its state folder (deploy/hub/prestart.py).
# Keep the roster outside the repository (it names students).
hub-prestart: $(VENV)/.hub-installed
	@test -n "$(ROSTER)" || { echo "usage: make hub-prestart ROSTER=class.txt  (one user name per line)"; exit 2; }
	$(PY) deploy/hub/prestart.py $(ROSTER) $(PRESTART_ARGS)

# Browser tests drive Debian's Chromium; install it when missing and we may (root with apt-get).
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

test: $(VENV)/.test-installed $(VENV)/.hub-installed browser
	$(PY) -m pytest -q --durations=30

# Speed targets, run on demand (not part of make test: timings need a quiet machine).
# Each is a module of the benchmarks package, run from the repository root (they import harness/, never tests/).
benchmarks: $(VENV)/.test-installed
	mkdir -p artifacts
	for b in rbm_exact rbm_sweep rbm_cumulant_precision rbm_ais rbm_training vae_exact_speed vae_train_speed; do \
		echo "== $$b"; $(PY) -m benchmarks.$$b || exit 1; done
	$(PY) -m benchmarks.app_latency --json artifacts/app_latency.json
	$(PY) -m benchmarks.vae_app_latency
	$(PY) -m benchmarks.vae_load_stall --json artifacts/vae_load_stall.json
	$(PY) -m benchmarks.network --json artifacts/network.json

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis deploy/hub/node_modules tests/browser/node_modules
