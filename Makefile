# Thin wrappers over what CI runs. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
# Three test workers on two cores: a fifth of the suite's time is spent waiting (server
# processes starting, Redis outages, Chromium), and a third worker fills it. Measured on a
# quiet 2-core VM, SQLite pass: -n 2 13 min 58 s, -n 3 12 min 29 s (2026-12-06, while every
# worker still started its own servers and browser); -n 3 with the module groups shared again
# (pytest 9.1.1, tests/conftest.py): 6 min 33 s, and the PostgreSQL pass 5 min 17 s (2026-12-06,
# .ci/run in a clean clone, 12 min 45 s in all). With the suite grown to ~2,900 tests, -n 3 still:
# SQLite 8 min 14 s – 8 min 57 s, PostgreSQL 6 min 8 s – 6 min 23 s (2026-12-07, .ci/run 15–16 min).
PYTEST_ARGS ?= -n 3
# pytest keeps each test module's rewritten asserts in __pycache__, unless the environment says
# not to write bytecode (PYTHONDONTWRITEBYTECODE, set on some CI machines): then every worker of
# every pass rewrites all of them again, 9 of its 13 s of collecting on two cores (2026-12-06).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest
# Where `make run` serves: `make run PORT=5001`, `make run HOST=0.0.0.0` (other machines too).
HOST ?= 127.0.0.1
PORT ?= 5000

.DEFAULT_GOAL := help
# The catalogs are compiled here, not committed: .mo files are build output (docs/translating.md).
PO_FILES := $(wildcard forum/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
BABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k _n:1,2

.PHONY: help setup run test test-fast test-pg lint fmt bench serve reindex clean translations translations-extract

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# `make run` installs the forum and what its pages load; tests, lint and bench add the `dev`
# extra (pytest, Playwright, ruff, …) and axe-core (the browser tests' accessibility checks).
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

static/vendor/.installed: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js static/vendor/
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css static/vendor/
	touch $@

%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@ -l $(word 3,$(subst /, ,$<))

translations: $(MO_FILES) ## Compile the German and Spanish catalogs (forum/translations)

translations-extract: $(BIN)/.installed ## Extract the strings to translate and merge them into the catalogs
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-location \
		--add-comments=Translators: --project=forum -o forum/translations/messages.pot .
	$(BIN)/pybabel update -i forum/translations/messages.pot -d forum/translations \
		--no-fuzzy-matching --ignore-obsolete

static/vendor/axe.min.js: static/vendor/.installed
	npm ci --include=dev --no-audit --no-fund --loglevel=error
	cp node_modules/axe-core/axe.min.js static/vendor/

setup: $(BIN)/.installed static/vendor/.installed translations ## Install what the forum needs and apply the migrations
	$(BIN)/flask db upgrade

run: setup ## Set up, seed demo content once, serve http://127.0.0.1:5000 (PORT=…, HOST=…) with the jobs worker
	$(BIN)/flask forum seed-demo --if-empty
	$(BIN)/flask forum dev-server --host $(HOST) --port $(PORT)

test: $(BIN)/.installed-dev static/vendor/axe.min.js translations ## Run every test (SQLite; local PostgreSQL and Redis when running)
	$(PYTEST) $(PYTEST_ARGS)

test-fast: $(BIN)/.installed-dev static/vendor/axe.min.js translations ## The inner loop: every test but the server-process, fault and browser ones
	$(PYTEST) $(PYTEST_ARGS) -m "not slow and not faults and not e2e"

test-pg: $(BIN)/.installed-dev static/vendor/axe.min.js translations ## Run the suite on the local PostgreSQL server
	FORUM_TEST_DATABASE_URL=$${FORUM_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
		$(PYTEST) $(PYTEST_ARGS) -m "not e2e"

serve: setup ## Production: page server on FORUM_BIND (+ gevent socket server on FORUM_SOCKETS_BIND) and the jobs worker; needs FORUM_SECRET_KEY, FORUM_BASE_URL
	$(BIN)/python -m forum.ops.serve --jobs

bench: $(BIN)/.installed-dev static/vendor/.installed translations ## Seed the benchmark data set and measure (BENCH_ARGS=--postgres, --smoke)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

reindex: $(BIN)/.installed ## Rebuild the search index from the database
	$(BIN)/flask forum reindex

lint: $(BIN)/.installed-dev ## ruff check, ruff format --check, import contracts, mypy, complete translations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m forum.i18n_check

fmt: $(BIN)/.installed-dev ## Format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## Remove the virtualenv, front-end packages and caches (keeps instance/)
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .ruff_cache
