# Two commands for a new user: `make run` (set up and run everything) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ropsms run

# The whole suite on SQLite, then the tests marked `pg` again on PostgreSQL when
# ROPSMS_TEST_DATABASE_URL is set (CI sets it; in CI its absence is an error, not a skip).
test: $(STAMP)
	@rc=0; $(PY) -m pytest || rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc
	@if [ -n "$$ROPSMS_TEST_DATABASE_URL" ]; then \
	  rc=0; ROPSMS_PG_RUN=1 DATABASE_URL="$$ROPSMS_TEST_DATABASE_URL" $(PY) -m pytest -m pg || rc=$$?; \
	  [ $$rc -eq 0 ] || exit $$rc; \
	elif [ -n "$$CI" ]; then \
	  echo "CI: ROPSMS_TEST_DATABASE_URL is not set; the PostgreSQL tests must run in CI" >&2; exit 1; \
	else \
	  echo "PostgreSQL tests not run: set ROPSMS_TEST_DATABASE_URL=postgres://... (see README)"; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench conftest.py

bench: $(STAMP)
	$(PY) bench/outbox.py

clean:
	rm -rf $(VENV) var test-artifacts
