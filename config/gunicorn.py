"""gunicorn's settings for the web process: where it listens, and its own log lines in the same
JSON as the app's. Requests are logged by the app (core.observability), so gunicorn's access
log is off."""

import os

from gunicorn.glogging import Logger

# A platform that starts the Procfile's `web` routes to $PORT from outside: every interface by
# default. `make run` sets WEB_BIND_ADDRESS=127.0.0.1, so a local run (with its demo log-ins) is
# not reachable from the network. An IPv6 address ("::") is bracketed as gunicorn expects.
_address = os.environ.get("WEB_BIND_ADDRESS", "0.0.0.0")
_host = f"[{_address}]" if ":" in _address else _address
bind = [f"{_host}:{os.environ.get('PORT', '8000')}"]
accesslog = None
# No control socket (gunicorn 25's `gunicornc`): the process supervisor runs the web with
# signals, and every gunicorn of a user shares its default path ($HOME/.gunicorn/gunicorn.ctl),
# so on a host running two (the tests, the benchmark, a second app) one took over the other's.
control_socket_disable = True


class _Logger(Logger):
    """gunicorn's logger with its access log on only when `accesslog` names a file. gunicorn's own
    turns it on whenever `logconfig_dict` is set (`Logger._compute_access_log_enabled`), which
    gave every request a second line, and built that line's fields on every request."""

    @property
    def access_log_enabled(self) -> bool:
        return self.cfg.accesslog is not None


logger_class = _Logger
# Threads, so that a request waiting on a slow dependency (each wait is bounded: settings'
# DATABASE_TIMEOUTS) does not hold the whole process: /healthz and the other requests are
# answered by the other threads meanwhile. Requests are short; four per process is plenty.
worker_class = "gthread"
threads = 4
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        # LOG_LEVEL, as for every process (settings' LOGGING): gunicorn's own `loglevel` is ignored.
        "gunicorn.error": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": False},
    },
}
