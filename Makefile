# The two commands of the README: `make run` (main job) and `make test` (the test suite).
VENV ?= .venv
BIN := $(VENV)/bin
export SPARK_LOCAL_IP ?= 127.0.0.1
# DVC stages call `textrepair`: put the venv first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test test-fast test-slow docs-check lint format bench bench-batch bench-latency venv serve bench-serve

venv:
	@bash scripts/bootstrap.sh

# The main command's sample of gold/test for batch scoring: about 50 main-profile rows.
BATCH_SAMPLE ?= split = 'test' AND profile = 'default' AND pmod(hash(id), 40) = 0
STREAM_ROWS ?= 20

## Main job, the whole lifecycle: data (bronze/silver/gold), train (or adopt the release),
## evaluate and register with DVC; promote; batch scoring; a short stream; the monitor report.
run: venv
	$(BIN)/dvc repro
	$(BIN)/dvc push --quiet
	$(BIN)/textrepair promote
	$(BIN)/textrepair batch --input data/lake/gold --text-column corrupted --where "$(BATCH_SAMPLE)"
	$(BIN)/textrepair stream produce --count $(STREAM_ROWS) --rate 50 --wait 0
	$(BIN)/textrepair stream --available-now
	@# A verdict needs monitor.min_rows logged predictions: a report, not a failed run, either way.
	-$(BIN)/textrepair monitor
	$(BIN)/textrepair summary

## The test suite (unit, data, model, serve, deploy, integration, e2e) after `make lint`: the
## one CI entry point (.github/workflows/ci.yml and .ci/run).
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

## The fast tier while editing: no Spark session, nothing marked slow.
test-fast: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not spark and not slow"

## The slow tests only, including the soak tests the default run leaves out (e.g. 50 fresh
## processes that read a Delta table must all exit 0: the exit-abort check of issue 20).
test-slow: venv
	$(BIN)/python -m pytest -m slow

## The docs check: every `textrepair` command and flag, `make` target, named test and relative link
## in README.md and docs/*.md exists, and docs/configuration.md matches the settings.
docs-check: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests/unit/test_docs_commands.py tests/unit/test_configdoc.py

## Lint: ruff, then the deploy linters (hadolint, kubernetes-validate, checkov, actionlint).
lint: venv
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/python scripts/lint_deploy.py

format:
	$(BIN)/ruff check --fix src tests benchmarks scripts
	$(BIN)/ruff format src tests benchmarks scripts

## Benchmarks: throughput ratios measured side by side.
bench: venv
	$(BIN)/python benchmarks/mutation_throughput.py

## The Streamlit app (textrepair ui): the champion, or TEXTREPAIR_UI__API_URL / TEXTREPAIR_UI__MODEL.
.PHONY: ui
ui: venv
	$(BIN)/textrepair ui

## Serving (issue 4): the API on 127.0.0.1:8000 from models:/textrepair@champion (MODEL=dir or URI).
serve: venv
	$(BIN)/textrepair serve $(if $(MODEL),--model $(MODEL))

## Load benchmark of the API: micro-batching on vs off at concurrency 1, 4, 16 (MODEL=dir or URI).
bench-serve: venv
	$(BIN)/python benchmarks/serve_load.py $(if $(MODEL),--model $(MODEL))

## Single-sentence latency through Repairer, with the floors no decoder of the model can beat.
bench-latency: venv
	$(BIN)/python benchmarks/latency.py --model $(or $(MODEL),models/textrepair-hybrid)

## Batch scoring throughput: Repairer directly vs Spark local[1] / local[2] (MODEL=dir or URI).
bench-batch: venv
	$(BIN)/python benchmarks/batch_throughput.py $(if $(MODEL),--model $(MODEL))

## Batched throughput (windows/s) of the edit model beside the SmolLM2 release in one run
## (EDIT=dir, default: a random-init small edit model; SMOLLM2=dir; HYBRID=dir adds a hybrid).
.PHONY: bench-models bench-onnx
bench-models: venv
	$(BIN)/python benchmarks/model_speed.py --model edit=$(or $(EDIT),random) \
		--model smollm2=$(or $(SMOLLM2),models/textrepair-smollm2-lora) \
		$(if $(HYBRID),--model hybrid=$(HYBRID))

## EditEncoder forward: torch fp32 / bf16 vs ONNX Runtime fp32 / int8 side by side (MODEL=edit
## dir, default: a random-init small edit model; CER_ROWS=300 adds gold/validation CER per variant).
bench-onnx: venv
	$(BIN)/python -m pip install --quiet -r requirements-bench.lock
	$(BIN)/python benchmarks/onnx_speed.py $(if $(MODEL),--model $(MODEL)) \
		$(if $(CER_ROWS),--cer-rows $(CER_ROWS))
