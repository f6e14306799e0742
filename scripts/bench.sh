#!/usr/bin/env bash
# Load benchmark of the full stack on loopback (tests/load/bench.py): a throwaway PostgreSQL
# unless DATABASE_URL names a server (a database "bench" is made on it), a private Redis,
# gunicorn, a Celery worker and the relay. Arguments go to the benchmark, e.g.
#   scripts/bench.sh --levels 2,4,8 --seconds 20 --web-workers 2 --worker-concurrency 2
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_postgres "${PG_PORT:-54329}"
export DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz}
export MESSAGE_SIGNING_KEY=${MESSAGE_SIGNING_KEY:-bench-only-message-signing-key}
export DJANGO_HTTPS=0
exec python -m tests.load.bench "$@"
