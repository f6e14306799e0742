"""The real system for the integration tests: a Redis, Celery worker(s), the outbox relay and
gunicorn, each its own process, all on loopback and on the test database."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kombu.exceptions
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]


def on_test_database(*, logs: Path, **options: Any) -> "Stack":
    """A Stack of processes on the tests' own database (pytest-django's), with the tests' secrets."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    return Stack(
        logs=logs,
        database_url=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        secret_key=settings.SECRET_KEY,
        signing_key=settings.MESSAGE_SIGNING_KEY,
        **options,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "") -> float:
    """Poll ``condition`` until it is true; return the seconds it took. Fails after ``timeout``."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what or condition}")
        time.sleep(interval)


_static_collected = False


def _collect_static_once(env: dict[str, str]) -> None:
    """gunicorn serves the pages' CSS through WhiteNoise from collected, hashed files."""
    global _static_collected
    if not _static_collected:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            cwd=ROOT, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        _static_collected = True


class Stack:
    def __init__(
        self,
        *,
        logs: Path,
        database_url: str,
        secret_key: str,
        signing_key: str,
        web_workers: int = 2,
        worker_concurrency: int = 2,
        worker_pool: str = "solo",
        workers_per_queue: int = 1,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.logs = logs
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.worker_pool = worker_pool
        # As in the Procfile: workers per queue (0: one worker for both queues).
        self.worker_queues = (
            {f"worker-{queue}-{n}": queue for queue in ("sales", "delivery") for n in range(1, workers_per_queue + 1)}
            if workers_per_queue
            else {"worker": "sales,delivery"}
        )
        self.redis_port = free_port()
        self.web_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "DATABASE_URL": database_url,
            "REDIS_URL": self.redis_url,
            "DJANGO_SECRET_KEY": secret_key,
            "MESSAGE_SIGNING_KEY": signing_key,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_HTTPS": "0",  # plain HTTP on loopback
            "PROMETHEUS_MULTIPROC_DIR": str(logs / "metrics"),
            **(extra_env or {}),
        }
        self.processes: dict[str, subprocess.Popen] = {}
        # Like a process supervisor in production: a worker that exits on its own is started
        # again. (kombu 5.7 can crash a worker when Redis dies under it; see docs/adr/0009.)
        self.worker_restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    # --- processes ------------------------------------------------------------------------

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "a")  # noqa: SIM115 - the child keeps writing to it
        self.processes[name] = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a process and everything it started (a worker's pool processes too)."""
        with self._lock:
            process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        self._stopping.set()
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM if name != "redis" else signal.SIGKILL)

    def start_redis(self) -> None:
        # No persistence: a restart comes back empty, as after a crash without AOF.
        self._start(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no"],
        )
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=0.2)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=10, what="redis answers")

    def kill_workers(self) -> None:
        for name in self.worker_queues:
            self.kill(name)

    def start_workers(self) -> None:
        for name in self.worker_queues:
            self.start_worker(name)

    def start_worker(self, name: str) -> None:
        # A solo worker is one process; its concurrency also sets its prefetch (times 4), so 1, as in
        # the Procfile (Celery would take the number of cores).
        concurrency = 1 if self.worker_pool == "solo" else self.worker_concurrency
        hostname = f"{name}@{socket.gethostname()}"
        self._start(
            name,
            [
                sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "-Q", self.worker_queues[name],
                "--pool", self.worker_pool, "--concurrency", str(concurrency),
                "--without-mingle", "--without-gossip", "--hostname", hostname,
            ],
        )  # fmt: skip
        # Ready when it answers a ping through the broker: its queues are consumed by then. (Its
        # "ready." line is INFO, which a stack with a higher LOG_LEVEL does not write.)
        probe = Celery("probe", broker=self.redis_url, set_as_current=False)
        probe.conf.broker_connection_timeout = 1
        probe.conf.broker_connection_retry = False

        def answers() -> bool:
            try:
                return bool(probe.control.ping(destination=[hostname], timeout=0.5, limit=1))
            except (OSError, redis.RedisError, kombu.exceptions.KombuError):
                return False  # Redis is not there (yet)

        try:
            wait_until(answers, timeout=30, interval=0.1, what=f"{name} ready")
        finally:
            probe.close()

    def start_relay(self) -> None:
        self._start("relay", [sys.executable, "manage.py", "outbox_relay"])

    def start_beat(self) -> None:
        log = self.logs / "beat.log"
        self._start("beat", [sys.executable, "-m", "celery", "-A", "config", "--quiet", "beat"])
        # Its start line is INFO: a stack whose LOG_LEVEL is higher does not start beat.
        wait_until(lambda: log.exists() and "beat: Starting" in log.read_text(), timeout=30, what="beat started")

    def process_groups(self) -> dict[int, str]:
        """Each running process's group, by the process's name. Each was started in a session of
        its own (``_start``), so its group is it and whatever it forked (gunicorn's workers)."""
        with self._lock:
            return {process.pid: name for name, process in self.processes.items()}

    def exited(self) -> dict[str, int]:
        """The processes that are no longer running, with their exit codes (none, if all is well)."""
        return {name: process.returncode for name, process in self.processes.items() if process.poll() is not None}

    def start_web(self) -> None:
        _collect_static_once(self.env)
        self._start(
            "web",
            [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi",
             "--bind", f"127.0.0.1:{self.web_port}", "--workers", str(self.web_workers)],  # as in the Procfile
        )  # fmt: skip
        wait_until(lambda: self.request("GET", "/api/products/")[0] == 401, timeout=30, interval=0.1, what="web up")

    def start_all(self) -> None:
        self.start_redis()
        self.start_web()
        self.start_workers()
        self.start_relay()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            with self._lock:
                for name in self.worker_queues:
                    process = self.processes.get(name)
                    if process is None or process.poll() is None or self._stopping.is_set():
                        continue
                    del self.processes[name]  # exited by itself, not killed by a test
                    self.worker_restarts += 1
                    self.start_worker(name)

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:]))
        return "\n".join(parts)

    # --- talking to it ----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except (urllib.error.URLError, ConnectionError):
            return 0, None

    def push_raw(self, task: str, envelope: dict) -> None:
        """Put a message on the broker as any producer would, bypassing the outbox."""
        app = Celery("raw", broker=self.redis_url, set_as_current=False)
        app.conf.task_serializer = "json"
        app.send_task(task, args=[envelope], queue=task.split(".", 1)[0])
        app.close()
