# `make run` and `make test` set themselves up on a fresh machine: a virtual env in .venv with the
# pinned requirements, and (for the browser tests) Debian's Chromium.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
ADDRESS ?= localhost

.PHONY: setup run test test-fast bench compare lint chromium features clean-cache

$(STAMP): requirements.txt requirements-dev.txt requirements-cluster.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

# The file watcher stays off even if .streamlit/config.toml is lost or overridden: it walks .venv
# and keeps a core busy while the app waits for a room.
# One BLAS thread per server: every browser session's round runs in a thread of this one
# process, and a small head fit that spins a second BLAS thread on a busy machine costs more
# than it saves (a five-class fit: 2.7 s wall on two threads under load, 0.12 s on one).
run: setup
	OPENBLAS_NUM_THREADS=1 $(PY) -m streamlit run app.py --server.port $(PORT) \
		--server.address $(ADDRESS) --server.fileWatcherType none

features: setup
	$(PY) -m tl_active features

# Debian's Chromium for the real-browser tests (never Playwright's own download, which fails offline).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup chromium
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not model and not server and not browser and not cluster"

# A labelling round against the demo's way, the stopping signals, an image folder's throughput and
# the head's training modes: bench/bench_round.py, whose options the command declares.
bench: setup
	$(PY) -m tl_active bench

# What a person gets in Chromium at 1440 x 900 (key to outline, submit to charts, server CPU per
# round, first page): medians.
.PHONY: bench-browser
bench-browser: setup chromium
	$(PY) bench/bench_browser.py

# N people labelling at once against one server started as `make run` starts it (one in Chromium,
# the others over Streamlit's websocket protocol): submit to progress, key to outline, server CPU
# per round, first page, for each N.
# Options: BENCH_ROOM_ARGS="--people 1,8 --rounds 2", "--browsers 2" or "--quick".
.PHONY: bench-room
bench-room: setup chromium
	$(PY) bench/bench_room.py $(BENCH_ROOM_ARGS)

# Runs per second of a sweep on both backends (joblib, a local Ray) on a slice of the 18,396-run
# grid, medians and the Ray / local ratio. Options: BENCH_SWEEP_ARGS="--every 73 --repeats 3".
.PHONY: bench-sweep
bench-sweep: setup
	$(PY) bench/bench_sweep.py $(BENCH_SWEEP_ARGS)

# Oracle runs per second of this checkout against an earlier commit, alternating, on one core;
# also checks both give the same rows. BENCH_ORACLE_ARGS="--against 6c79731 --cells 60".
BENCH_ORACLE_ARGS ?= --against 6c79731
.PHONY: bench-oracle
bench-oracle: setup
	$(PY) bench/bench_oracle_runs.py $(BENCH_ORACLE_ARGS)

# Look again's targets: wrong answers among the top suspects, two re-checks a round against no
# noise, and the suspects' cost beside a round (3 seeds; BENCH_LOOK_ARGS="--parts caught").
.PHONY: bench-look-again
bench-look-again: setup
	$(PY) bench/bench_look_again.py $(BENCH_LOOK_ARGS)

# The pool map in Chromium, its cache present: the panel opened to the map drawn, and a round's
# submit to the map recoloured beside the learning curve's redraw (medians; the load average).
# Options: BENCH_MAP_BROWSER_ARGS="--pages 5 --rounds 8".
.PHONY: bench-pool-map-browser
bench-pool-map-browser: setup chromium
	$(PY) bench/bench_pool_map_browser.py $(BENCH_MAP_BROWSER_ARGS)

# Our strategies beside scikit-activeml's on the same cached features, every selection judged by
# our plain head and by our pool-taught head: test accuracy at 10, 20 and 50 labels on odd/even,
# digits 0-4 and a folder of MNIST test digits 0-2 (docs/benchmarks.md). The peer is a bench
# extra (requirements-bench.txt), installed without touching the pinned versions.
# Options: BENCH_PEERS_ARGS="--seeds 1 --budgets 10,20 --tasks folder".
.PHONY: bench-peers
bench-peers: setup
	$(PY) -m pip install --quiet --no-deps -r requirements-bench.txt
	OPENBLAS_NUM_THREADS=1 $(PY) bench/bench_peers.py $(BENCH_PEERS_ARGS)

compare: setup
	$(PY) -m tl_active compare --out results/compare

# Scratch, frozen-conv, the head and fine-tuning on digits 0-4 of the 5-9 network (docs/transfer/
# holds the committed run); TRANSFER_ARGS="--quick" for the short one.
.PHONY: transfer
transfer: setup
	$(PY) -m tl_active transfer --out results/transfer $(TRANSFER_ARGS)

# Style and the dependency rules between packages (docs/architecture.md).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

clean-cache:
	rm -rf .cache
