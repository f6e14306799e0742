.PHONY: run test lint format lock

run:  ## the whole system (web, workers, beat) with demo data
	scripts/run.sh

test:  ## lint and the whole test suite against real PostgreSQL and Redis
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

lock:  ## requirements*.txt from requirements*.in: every package pinned, with hashes
	scripts/lock.sh $(ARGS)
