#!/usr/bin/env bash
# Runs the whole test suite: lint, then pytest against a real PostgreSQL and a real Redis
# (throwaway servers on loopback unless DATABASE_URL / REDIS_URL are given).
# Extra arguments go to pytest, e.g. scripts/test.sh -k orders -x
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_postgres "${PG_PORT:-54329}"
ensure_redis "${REDIS_PORT:-6391}"
# The browser tests drive Debian's Chromium (never a browser downloaded by a test tool);
# `make test-fast` runs none, so it needs none.
[ -n "${TEST_FAST:-}" ] || [ -x /usr/bin/chromium ] || apt_install chromium

# Each run counts its own metrics (prometheus_client's multiprocess files): two runs at once
# on one machine must not add up each other's counters.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$(mktemp -d /tmp/order-processing-test-metrics.XXXXXX)}

say "lint: ruff, import-linter, mypy"
ruff check .
ruff format --check .
lint-imports
mypy
say "tests: pytest"
python -m pytest "$@"
