# Central: the two commands of the README are `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-repeat test-sqlite test-postgres lint bench clean

$(STAMP): pyproject.toml agent/pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	bash scripts/system-deps.sh run
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The site agent is its own package (agent/); Central imports its protocol module.
	$(BIN)/pip install -q -e ./agent -e '.[test]'
	touch $(STAMP)

## Set up and run Central on the embedded default (SQLite, no Redis, PBX simulator).
run: $(STAMP)
	$(BIN)/central up --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

## Set up and run the whole test suite on SQLite, then on PostgreSQL + Redis.
test: $(STAMP)
	bash scripts/test.sh

## Run the suite N times in a row on one database (sqlite, postgres or both) and count
## the failed runs: `make test-repeat N=10 DB=postgres` (ARGS= narrows it to some tests).
N ?= 10
DB ?= sqlite
ARGS ?=
test-repeat: $(STAMP)
	bash scripts/test-repeat.sh $(N) $(DB) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench agent

clean:
	rm -rf $(VENV) .pytest_cache .ci-work
