.PHONY: run stop test lint format lock

run:  ## the whole system (web, workers, beat) with demo data
	scripts/run.sh

stop:  ## stop what `make run` started (its processes, and the private Redis it started)
	-.venv/bin/supervisorctl -c .run/supervisord.conf shutdown
	-redis-cli -p $${REDIS_PORT:-6390} shutdown nosave 2>/dev/null

test:  ## lint and the whole test suite against real PostgreSQL and Redis
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

lock:  ## requirements*.txt from requirements*.in: every package pinned, with hashes
	scripts/lock.sh $(ARGS)
