"""gunicorn's settings for the web process: its own log lines in the same JSON as the app's.
Requests are logged by the app (config.observability), so gunicorn's access log is off."""

accesslog = None
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
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
