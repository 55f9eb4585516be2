# Two commands on a fresh machine: `make book` builds the default study's record; `make test` tests.
# Every target bootstraps what it needs: the virtual environment (pinned by constraints.txt) and the
# book's offline scripts (pinned by package-lock.json).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
STUDY ?= study.yaml
CODESET ?=

.PHONY: book pdf test lint format data bench clean lock system-deps

book: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/codeset run $(STUDY) $(if $(CODESET),--codeset $(CODESET))

# The whole record in one PDF, figures included, printed offline by Debian's Chromium; prints its path.
pdf: system-deps book
	$(BIN)/codeset pdf book

# The codeset builder as an app: Voilà serves notebooks/teaching/builder_app.ipynb with no code shown,
# at the URL it prints; drafts go to notebooks/teaching/drafts/<id>/ (or $CODESET_DRAFTS_DIR). The
# dataset is written only when missing: `make data` checks every table, which takes a while.
BUILDER_PORT ?= 8866
LAB_PORT ?= 8888
# Jupyter refuses to run as root unless told to, and as root (a container, CI) there is no browser.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root --no-browser)
.PHONY: builder lab
builder: $(INSTALLED)
	@test -f data/synthetic/default/clinical_events.parquet || $(BIN)/codeset data $(STUDY)
	$(BIN)/voila notebooks/teaching/builder_app.ipynb --port=$(BUILDER_PORT) --no-browser

# JupyterLab on the teaching notebooks; it prints the URL to open, with the token to sign in.
lab: $(INSTALLED)
	@test -f data/synthetic/default/clinical_events.parquet || $(BIN)/codeset data $(STUDY)
	$(BIN)/jupyter lab notebooks/teaching --port=$(LAB_PORT) $(AS_ROOT)

test: lint data $(NODE_INSTALLED) system-deps
	$(BIN)/codeset lint codesets/*
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=90 tests
	$(BIN)/pytest --nbval-lax -p no:cacheprovider notebooks

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

data: $(INSTALLED)
	$(BIN)/codeset data $(STUDY)

# The folder students receive: each session's notebook as nbgrader releases it (no solutions) and the
# data the notebooks read. Refuses to replace a folder the kit did not write.
STUDENT_RELEASE ?= build/student-release
.PHONY: student-release
student-release: $(INSTALLED)
	$(BIN)/codeset student-release $(STUDENT_RELEASE)

# Performance is measured here, never in tests; each script writes benchmarks/results/<name>.json and .md.
bench: $(INSTALLED) system-deps
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf book/_build book/generated book/vendor data/synthetic/*/ .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.*

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,spark]"
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

# Programs from Debian's packages that the tests use: Chromium for the browser test of the book and
# its PDF, poppler-utils to read the PDF back, Java for the Spark engine, and PostgreSQL for a
# throwaway server the database engine's tests start (Debian keeps its programs off the PATH, under
# /usr/lib/postgresql/VERSION/bin). Installed when missing (as root, as on CI); otherwise say what to
# install.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

# Refresh the pins: install the newest versions the ranges in pyproject.toml allow, then freeze them.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e ".[dev]"
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^codesetlib' > constraints.txt
	rm -rf .lock-venv
