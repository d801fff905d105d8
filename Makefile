# Two entry points a person needs: `make run` and `make test` (as root).
# Both run the idempotent set-up first; nothing else has to be installed by hand.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test unit lint bench bench-exporter clean

setup:
	@bash scripts/setup.sh

run: setup
	@$(VENV)/bin/cdig top $(ARGS)

lint: setup
	@$(VENV)/bin/ruff check .
	@$(PY) scripts/typecheck.py

# unit tier (no root needed), then integration (root, BPF, real containers)
test: setup lint
	@$(PY) -m pytest -q -p no:cacheprovider tests

unit: setup
	@$(PY) -m pytest -q -p no:cacheprovider tests/unit

bench: setup
	@$(PY) benchmarks/trace_throughput.py

bench-exporter: setup
	@$(PY) benchmarks/exporter_overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
