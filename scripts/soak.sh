#!/usr/bin/env bash
# Chaos soak of the full stack on loopback (load/soak.py): load while a worker is killed,
# Redis restarted empty and the relay stopped, in turn; then checks that nothing was lost or
# doubled, and exits non-zero if anything was. Arguments go to it, e.g.
#   scripts/soak.sh --seconds 120 --clients 4 --every 15
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

prepare_load_run
exec python -m load.soak "$@"
