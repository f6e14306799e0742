.PHONY: run stop test test-fast lint format lock

run:  ## the whole system (web, workers, beat) with demo data
	scripts/run.sh

stop:  ## stop what `make run` started (its processes, and the private Redis it started)
	-.venv/bin/supervisorctl -c .run/supervisord.conf shutdown
	-redis-cli -p $${REDIS_PORT:-6390} shutdown nosave 2>/dev/null

test:  ## lint and the whole test suite against real PostgreSQL and Redis
	scripts/test.sh

test-fast:  ## lint and the tests that need no live system, browser or fuzzing (about a minute)
	TEST_FAST=1 scripts/test.sh -n 2 -m "not integration and not browser" --ignore=tests/fuzz

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports && .venv/bin/mypy

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

lock:  ## requirements*.txt from requirements*.in: every package pinned, with hashes
	scripts/lock.sh $(ARGS)
