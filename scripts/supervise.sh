#!/usr/bin/env bash
# Runs every process of the Procfile under supervisord, in the foreground, and restarts any
# that exits (after a second; supervisord logs "exited: NAME (...; not expected)" and then
# "spawned: 'NAME'"). Ctrl-C, or `make stop` from another terminal, stops them all.
# Used by scripts/run.sh; expects the environment (PORT, secrets, URLs) to be set.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR="$ROOT/.run"
mkdir -p "$RUN_DIR"
conf="$RUN_DIR/supervisord.conf"

{
  cat <<CONF
[supervisord]
nodaemon=true
logfile=/dev/null  ; in the foreground supervisord also writes its log to stdout
logfile_maxbytes=0
pidfile=$RUN_DIR/supervisord.pid
directory=$ROOT

[unix_http_server]
file=$RUN_DIR/supervisor.sock

[supervisorctl]
serverurl=unix://$RUN_DIR/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
CONF
  while IFS= read -r line; do
    [[ "$line" =~ ^([A-Za-z0-9_-]+):[[:space:]]*(.+)$ ]] || continue
    name=${BASH_REMATCH[1]}
    command=${BASH_REMATCH[2]//%/%%}  # supervisord expands %(...)s in its settings
    cat <<CONF

[program:$name]
command=sh -c "exec $command"
autorestart=true
startsecs=1
startretries=1000000
stopasgroup=true
killasgroup=true
stopwaitsecs=15
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
CONF
  done <"$ROOT/Procfile"
} >"$conf"

exec supervisord -c "$conf"
