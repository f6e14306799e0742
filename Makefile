.PHONY: run stop test lint format

run:  ## the whole system (web, workers, beat) with demo data
	scripts/run.sh

test:  ## lint and the whole test suite against real PostgreSQL and Redis
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

stop:  ## stop what `make run` started (its processes, and the private Redis it started)
	-.venv/bin/supervisorctl -c .run/supervisord.conf shutdown
	-redis-cli -p $${REDIS_PORT:-6390} shutdown nosave 2>/dev/null
