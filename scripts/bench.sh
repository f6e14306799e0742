#!/usr/bin/env bash
# Load benchmark of the full stack on loopback (load/bench.py): a throwaway PostgreSQL
# unless DATABASE_URL names a server (a database "bench", or --database NAME, is made afresh on
# it), a private Redis, gunicorn, the Celery workers (per queue), the relay and beat. It prints
# the targets of issue 12, met or not. Arguments go to the benchmark, e.g.
#   scripts/bench.sh --levels 1,2,4 --seconds 10 --web-workers 2 --workers-per-queue 2 --sentry
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

prepare_load_run
exec python -m load.bench "$@"
