# The README's two commands: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# extra app.py flags, e.g. ARGS="--auth-file users.txt --upload-users alice" (README: Deploying)
ARGS ?=

.PHONY: run test install shell lint bench bench-quality bench-speed bench-load bench-hostile bench-scale bench-watch bench-mcp calibrate screenshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of PyTorch first, from PyTorch's CPU wheel index: on PyPI, torch for Linux is the
	# multi-GB CUDA build. 2.13.0+cpu sorts above 2.13.0, so pip takes the CPU wheel wherever the
	# index is reachable (and a local copy where only the registries are).
	$(BIN)/pip install --quiet --retries 1 --timeout 30 torch==2.13.0 --extra-index-url $(TORCH_INDEX)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP)

# a shell with .venv active, so `ftzqa` is on the PATH (the same as `source .venv/bin/activate`)
shell: $(STAMP)
	@echo "ftzqa is on the PATH in this shell; type exit to leave it"
	@. $(BIN)/activate && exec "$${SHELL:-/bin/bash}" -i

run: $(STAMP)
	$(BIN)/python app.py --host $(HOST) --port $(PORT) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench app.py
	$(BIN)/mypy src

# the whole suite twice: on the embedded store, then with every index in Milvus Lite (the dev extra
# installs pymilvus and milvus-lite); tests about the embedded store's own files are skipped there
test: lint
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q --store milvus

# benchmarks (not tests): each prints a table and writes bench/results/*.json
bench: bench-quality bench-speed bench-load bench-watch

bench-quality: $(STAMP)
	$(BIN)/python bench/squad.py
	$(BIN)/python bench/scifact.py

bench-speed: $(STAMP)
	$(BIN)/python bench/speed.py

bench-hostile: $(STAMP)
	$(BIN)/python bench/hostile.py

bench-watch: $(STAMP)
	$(BIN)/python bench/watch.py

bench-load: $(STAMP)
	$(BIN)/python bench/load.py

# 100k and 1M passages (about an hour on an idle 2-core machine; not part of `make bench`);
# SIZES=100000 for the smaller one alone
SIZES ?= 100000,1000000
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py --sizes $(SIZES)

calibrate: $(STAMP)
	$(BIN)/python bench/calibrate.py

.PHONY: bench-mcp
bench-mcp: $(STAMP)
	$(BIN)/python bench/mcp_roundtrip.py

screenshot: $(STAMP)
	UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/test_browser.py

clean:
	rm -rf $(VENV) index/CURRENT index/gen-* index/.tmp-* .pytest_cache .mypy_cache .ruff_cache
