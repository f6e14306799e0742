import logging
import sys
import threading
from types import TracebackType

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("core.uncaught")


class CoreConfig(AppConfig):
    """Shared runtime helpers. Its jobs at start, in every process (web, workers, beat, relay):
    whatever ends a process or a thread with an exception is logged as one JSON record with its
    traceback, like every other log line, not printed as loose lines on stderr; and with
    SENTRY_DSN set, errors go to Sentry."""

    name = "core"

    def ready(self) -> None:
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
        logging.captureWarnings(True)  # warnings too are records, not stderr lines
        if settings.SENTRY_DSN:
            from core.error_reporting import init_error_reporting

            init_error_reporting(
                dsn=settings.SENTRY_DSN,
                environment=settings.SENTRY_ENVIRONMENT,
                release=settings.SENTRY_RELEASE,
                traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
            )


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, traceback)
        return
    logger.critical("uncaught exception: the process ends", exc_info=(exc_type, exc, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    logger.critical(
        "uncaught exception in a thread",
        exc_info=args.exc_value,  # the exception carries its type and traceback
        extra={"thread_name": args.thread.name if args.thread else None},
    )
