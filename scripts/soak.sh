#!/usr/bin/env bash
# Chaos soak of the full stack on loopback (tests/load/soak.py): load while a worker is killed,
# Redis restarted empty and the relay stopped, in turn; then checks that nothing was lost or
# doubled, and exits non-zero if anything was. Arguments go to it, e.g.
#   scripts/soak.sh --seconds 120 --clients 4 --every 15
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_postgres "${PG_PORT:-54329}"
export DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-soak-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz}
export MESSAGE_SIGNING_KEY=${MESSAGE_SIGNING_KEY:-soak-only-message-signing-key}
export DJANGO_HTTPS=0
exec python -m tests.load.soak "$@"
