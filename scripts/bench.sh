#!/usr/bin/env bash
# Load benchmark of the full stack on loopback (load/bench.py): a throwaway PostgreSQL
# unless DATABASE_URL names a server (a database "bench" is made on it), a private Redis,
# gunicorn, the Celery workers (per queue) and the relay. Arguments go to the benchmark, e.g.
#   scripts/bench.sh --levels 1,2,4 --seconds 10 --web-workers 2 --workers-per-queue 2
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

prepare_load_run
exec python -m load.bench "$@"
