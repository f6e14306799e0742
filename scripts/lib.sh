# Shared by scripts/run.sh and scripts/test.sh: a virtualenv, and private PostgreSQL and Redis
# servers on loopback for whatever DATABASE_URL / REDIS_URL do not already name.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR="$ROOT/.run"
VENV="$ROOT/.venv"
mkdir -p "$RUN_DIR"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install Debian packages when we may (root, or password-less sudo); otherwise say what to install.
apt_install() {
  local runner=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then runner="sudo"; else
      die "please install these packages first (e.g. sudo apt-get install $*), then run this again"
    fi
  fi
  command -v apt-get >/dev/null 2>&1 || die "no apt-get here: please install $* with your package manager"
  say "installing $* (apt-get)"
  $runner env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $runner env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  local python=${PYTHON:-python3}
  command -v "$python" >/dev/null 2>&1 || apt_install python3 python3-venv
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv .venv"
    "$python" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; rm -rf "$VENV"; "$python" -m venv "$VENV"; }
  fi
  # The stamp covers both locks: a change to either (or `make lock`) installs again.
  local stamp="$VENV/.requirements.sha256" want
  want=$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python packages into .venv (locked, hash-checked)"
    # requirements-dev.txt holds every runtime pin of requirements.txt too (and pip itself).
    # --require-hashes: a file that differs from the one locked, or a package the lock
    # forgot, stops the install instead of slipping in.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
      -r "$ROOT/requirements-dev.txt"
    echo "$want" >"$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# A private Redis on 127.0.0.1:$1 unless REDIS_URL is given. No persistence: it is throwaway.
ensure_redis() {
  local port=$1
  if [ -n "${REDIS_URL:-}" ]; then return; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  export REDIS_URL="redis://127.0.0.1:$port/0"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then return; fi
  say "starting Redis on 127.0.0.1:$port"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
    --dir "$RUN_DIR" --pidfile "$RUN_DIR/redis-$port.pid" --logfile "$RUN_DIR/redis-$port.log"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  die "Redis did not start; see $RUN_DIR/redis-$port.log"
}

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && { echo "$dir"; return; }; done
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

# A throwaway PostgreSQL on 127.0.0.1:$1 unless DATABASE_URL is given. PostgreSQL refuses to
# run as root, so as root the server runs as the `postgres` user with its data under /tmp.
ensure_postgres() {
  local port=$1 bin data as=()
  if [ -n "${DATABASE_URL:-}" ]; then return; fi
  bin=$(pg_bindir || true)
  if [ -z "$bin" ]; then apt_install postgresql; bin=$(pg_bindir); fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    data="/tmp/order-processing-pg-$port"
    as=(runuser -u postgres --)
  else
    data="$RUN_DIR/pg-$port"
  fi
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then return; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a throwaway PostgreSQL cluster in $data"
    mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
    "${as[@]}" "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-instructions >/dev/null
  fi
  say "starting PostgreSQL on 127.0.0.1:$port"
  # fsync off: this cluster holds test data only and is thrown away.
  "${as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $port -k $data -c fsync=off -c full_page_writes=off -c max_connections=200" >/dev/null \
    || die "PostgreSQL did not start; see $data/server.log"
}

# What the load tools (scripts/bench.sh, scripts/soak.sh) need: the venv, a PostgreSQL to make
# their own database on, and throwaway secrets. They start Redis and the processes themselves.
prepare_load_run() {
  ensure_venv
  ensure_postgres "${PG_PORT:-54329}"
  export DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-load-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz}
  export MESSAGE_SIGNING_KEY=${MESSAGE_SIGNING_KEY:-load-only-message-signing-key}
  export DJANGO_HTTPS=0
}
