#!/usr/bin/env bash
# Runs the whole system on this machine: web, workers and beat (the Procfile), with demo data.
# SQLite unless DATABASE_URL says otherwise; a private Redis unless REDIS_URL says otherwise.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_redis "${REDIS_PORT:-6390}"

# Runs like production (DEBUG off), so it needs secrets: made once, kept in .run/.
for name in DJANGO_SECRET_KEY MESSAGE_SIGNING_KEY; do
  file="$RUN_DIR/$(echo "$name" | tr 'A-Z' 'a-z')"
  [ -s "$file" ] || python -c 'import secrets; print(secrets.token_urlsafe(50))' >"$file"
  [ -n "${!name:-}" ] || export "$name=$(cat "$file")"
done
# Production refuses to start without DATABASE_URL; a local run names its SQLite file.
export DATABASE_URL=${DATABASE_URL:-sqlite:///$ROOT/db.sqlite3}
export PORT=${PORT:-8000}
# Loopback only: the demo log-ins are for this machine (production listens on every interface).
export WEB_BIND_ADDRESS=127.0.0.1
export DJANGO_HTTPS=${DJANGO_HTTPS:-0}  # a local run speaks plain HTTP on loopback
# Metrics files of earlier runs would be summed with this one's: start afresh.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$RUN_DIR/metrics}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

python manage.py migrate --noinput
python manage.py collectstatic --noinput >/dev/null
python manage.py seed_demo
say "starting web on http://127.0.0.1:$PORT (API under /api/, admin at /admin/), workers and beat"
exec scripts/supervise.sh
