"""Load benchmark of the full stack on loopback: gunicorn, Celery workers, relay, beat, PostgreSQL, Redis.

    scripts/bench.sh [--levels 2,4,8] [--seconds 20] [--web-workers 2] [--workers-per-queue 2] [--sentry]

At each concurrency level, that many clients keep placing valid orders (JWT, real bodies) for a
fixed time. Reported per level: orders/s, latency p50/p95/p99, answers by status code (0: no
answer that parses), the order → shipment lag p50/p99 (from the stored timestamps), the
outbox/queue backlog over the run and the time to drain it, the CPU per order of the processes
the benchmark started and of its database's PostgreSQL backends, by kind (load/cpu.py; the load
generator apart), and pgbench's tps for an order-shaped transaction at the same client count,
with the ratio. Then, at a fixed rate of half the highest orders/s measured (open loop: a request
leaves on schedule whether or not earlier ones have answered), orders and clerk changes
(--clerk-share per order) give the latency and both lags at half load: order → shipment and clerk
change → sales. With --sentry, the highest-rate level again with Sentry off and on, back to back,
against a local capture endpoint. A table on stdout with the targets of issue 12, met or not, and
JSON.

The client is a small asyncio HTTP/1.1 client (standard library): on a 2-core machine every
cycle the load generator spends is taken from the server, and this one spends few.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from load import cpu

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def percentiles_ms(seconds: list[float], qs: tuple[int, ...] = (50, 99)) -> dict[int, float]:
    return {q: round(percentile(seconds, q) * 1000, 1) for q in qs}


# --- the database ---------------------------------------------------------------------------


def prepare_database(server_url: str, name: str = "bench") -> str:
    """A fresh database ``name`` on the server of ``server_url``, migrated. Whatever was in a
    database of that name is dropped: on a server shared with others, give a name of your own."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain database name: {name!r}")
    import psycopg2

    parts = urlparse(server_url)
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port, user=parts.username, password=parts.password, dbname=parts.path[1:]
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    bench_url = parts._replace(path=f"/{name}").geturl()
    env = {**os.environ, "DATABASE_URL": bench_url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return bench_url


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_HTTPS", "0")
    from config.settings import settings_module

    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(os.environ)
    import django

    django.setup()


# --- the load -------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.codes: dict[int, int] = {}

    def add(self, seconds: float, code: int) -> None:
        self.latencies.append(seconds)
        self.codes[code] = self.codes.get(code, 0) + 1


REQUEST_TIMEOUT = 30.0  # seconds: a request not answered by then counts as an error


async def _request(port: int, raw: bytes, timeout: float = REQUEST_TIMEOUT) -> int:
    """Send ``raw`` and read the answer: its status code, or 0 when there is no answer that
    parses (the connection refused or reset, closed without an answer, an answer that is not
    HTTP or shorter than it says, none within ``timeout``). A load run counts 0 as an error."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(raw)
                await writer.drain()
                status = _status(await reader.readline())
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                return status
            finally:
                writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        return 0


def _status(line: bytes) -> int:
    """The code of an HTTP status line (``HTTP/1.1 201 Created``); ValueError if it is not one."""
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"not an HTTP status line: {line[:80]!r}")
    return int(code)


def http_post(path: str, token: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + payload


async def keep_placing(port: int, raws: list[bytes], seconds: float, results: Results) -> None:
    stop_at = time.monotonic() + seconds

    async def client(raw: bytes) -> None:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            code = await _request(port, raw)
            results.add(time.perf_counter() - started, code)

    await asyncio.gather(*(client(raw) for raw in raws))


async def post_all(port: int, raws: list[bytes], concurrency: int) -> Results:
    results = Results()
    queue = list(raws)

    async def client() -> None:
        while queue:
            raw = queue.pop()
            started = time.perf_counter()
            code = await _request(port, raw)
            results.add(time.perf_counter() - started, code)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results


async def at_fixed_rate(
    port: int, order_raws: list[bytes], clerk_raws: list[bytes], rate: float, seconds: float, clerk_share: float
) -> tuple[Results, Results]:
    """Open loop: order ``i`` leaves at ``i / rate`` s, whatever the answers to earlier ones, and
    clerk changes go with them, ``clerk_share`` per order. Latencies include any wait."""
    orders, clerk = Results(), Results()

    async def send(raw: bytes, results: Results, due: float) -> None:
        code = await _request(port, raw)
        results.add(time.monotonic() - due, code)  # from when it was due: a late start counts

    tasks = []
    start = time.monotonic()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        if (delay := due - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(order_raws[i % len(order_raws)], orders, due)))
        if int((i + 1) * clerk_share) > int(i * clerk_share) and clerk_raws:
            tasks.append(asyncio.create_task(send(clerk_raws.pop(), clerk, due)))
    await asyncio.gather(*tasks)
    return orders, clerk


# --- what the system uses -------------------------------------------------------------------


def cpu_reading(stack) -> cpu.Reading:
    """CPU so far of the stack's processes, of the backends of the benchmark's database, and of
    the load generator (load/cpu.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        backends = cpu.database_backends(cursor)
    return cpu.read(stack.process_groups(), backends)


def backlog(cursor, client) -> dict[str, int]:
    """Messages in flight in each outbox (not yet acknowledged, or not yet sent), messages
    waiting in Redis, and acknowledgements waiting in Redis for the relay (up to one relay
    interval's worth, by design)."""
    from messaging.acks import ack_list

    counts = {}
    for app in ("sales", "delivery"):
        cursor.execute(f"SELECT count(*) FROM {app}_outboxmessage WHERE state IN ('pending', 'awaiting_ack')")
        counts[f"{app}_outbox"] = cursor.fetchone()[0]
    counts["redis_queued"] = client.llen("sales") + client.llen("delivery")
    counts["redis_acks"] = client.llen(ack_list("sales")) + client.llen(ack_list("delivery"))
    return counts


class BacklogSampler(threading.Thread):
    """Every half second, the backlog; ``summary`` tells whether it grew during the load."""

    def __init__(self, redis_port: int) -> None:
        super().__init__(daemon=True)
        self.redis_port = redis_port
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import redis
        from django.db import connection

        client = redis.Redis(port=self.redis_port)
        while not self.stopping.wait(0.5):
            with connection.cursor() as cursor:
                self.samples.append((time.monotonic(), backlog(cursor, client)))
        connection.close()

    def summary(self, load_ended: float) -> dict[str, float]:
        """The largest and the last of each count, and the growth during the load: the mean of the
        messages in flight in the outboxes over its second half less that over its first half."""
        keys = ("sales_outbox", "delivery_outbox", "redis_queued", "redis_acks")
        if not self.samples:
            return {}
        in_flight = [
            counts["sales_outbox"] + counts["delivery_outbox"] for at, counts in self.samples if at <= load_ended
        ]
        half = len(in_flight) // 2
        growth = sum(in_flight[half:]) / (len(in_flight) - half) - sum(in_flight[:half]) / half if half else 0.0
        return {
            **{f"max_{key}": max(counts[key] for _, counts in self.samples) for key in keys},
            **{f"last_{key}": self.samples[-1][1][key] for key in keys},
            "in_flight_growth": round(growth, 1),
        }


def wait_until_drained(since, until, redis_port: int, timeout: float = 120) -> float:
    """Seconds until every order placed between ``since`` and ``until`` has its shipment and no
    message is in flight (none pending or awaiting an acknowledgement in either outbox, none
    queued in Redis); NaN if that takes longer than ``timeout``."""
    import redis
    from django.db import connection

    client = redis.Redis(port=redis_port)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM sales_order o WHERE o.created_at BETWEEN %s AND %s "
                "AND NOT EXISTS (SELECT 1 FROM delivery_shipment s WHERE s.order_id = o.id)",
                [since, until],
            )
            without_shipment = cursor.fetchone()[0]
            if not without_shipment and not any(backlog(cursor, client).values()):
                return time.monotonic() - started
        time.sleep(0.1)
    return float("nan")


def run_level(stack, raws: list[bytes], seconds: float) -> dict:
    """Closed loop: each of ``raws`` is a client that keeps placing its order for ``seconds``;
    then the system drains. The CPU counts from the start of the load to the end of the drain."""
    from django.utils import timezone

    sampler = BacklogSampler(stack.redis_port)
    results = Results()
    since = timezone.now()
    sampler.start()
    before = cpu_reading(stack)
    started = time.perf_counter()
    asyncio.run(keep_placing(stack.web_port, raws, seconds, results))
    elapsed = time.perf_counter() - started
    load_ended = time.monotonic()
    until = timezone.now()
    drained = wait_until_drained(since, until, stack.redis_port)
    placed = results.codes.get(201, 0)
    used = cpu.usage(before, cpu_reading(stack), placed)
    sampler.stopping.set()
    sampler.join()
    return {
        "clients": len(raws),
        "orders_per_second": round(placed / elapsed, 1),
        "latency_ms": percentiles_ms(results.latencies, (50, 95, 99)),
        "codes": {str(code): count for code, count in sorted(results.codes.items())},
        "order_to_shipment_ms": percentiles_ms(order_to_shipment_lags(since, until)),
        "backlog": sampler.summary(load_ended),
        "drained_seconds_after_load": round(drained, 2),
        "cpu_ms_per_order": used.ms_per_order | {"system": used.system_ms_per_order},
        "load_generator_cpu_ms_per_order": used.load_generator_ms_per_order,
        "cpu_processes": used.processes,
    }


def restart_processes(stack, env: dict[str, str], unset: tuple[str, ...] = ()) -> None:
    """Every process of the stack but Redis stopped and started again, with ``env`` added to its
    environment and ``unset`` taken out."""
    for name in [name for name in stack.processes if name != "redis"]:
        stack.kill(name, signal.SIGTERM)
    for name in unset:
        stack.env.pop(name, None)
    stack.env.update(env)
    stack.start_web()
    stack.start_workers()
    stack.start_relay()
    stack.start_beat()


# Sentry off, on, on, off: a drift of the machine's speed over the four runs (a neighbour's load
# coming or going) weighs on both sides alike.
SENTRY_ORDER = ("off", "on", "on", "off")


def with_and_without_sentry(stack, raws: list[bytes], seconds: float, capture) -> dict:
    """The same closed-loop level four times, back to back: Sentry off, on, on, off (SENTRY_DSN at
    ``capture``). At each switch the processes are started afresh and warmed up for a few seconds,
    so both sides measure the same steady state and differ by Sentry alone."""
    runs: list[dict] = []
    for name in SENTRY_ORDER:
        if not runs or runs[-1]["sentry"] != name:
            restart_processes(stack, {"SENTRY_DSN": capture.dsn} if name == "on" else {}, unset=("SENTRY_DSN",))
            warm_up(stack, raws)
        runs.append({"sentry": name, **run_level(stack, raws, seconds)})
        print(json.dumps({"sentry_run": runs[-1]}), flush=True)
    system = {
        name: sum(run["cpu_ms_per_order"]["system"] for run in runs if run["sentry"] == name) / SENTRY_ORDER.count(name)
        for name in ("off", "on")
    }
    return {
        "clients": len(raws),
        "runs": runs,
        "system_cpu_ms_per_order": {name: round(ms, 2) for name, ms in system.items()},
        "extra_cpu_ms_per_order": round(system["on"] - system["off"], 2),
        "items_received": capture.item_counts(),
    }


WARM_UP_SECONDS = 3


def warm_up(stack, raws: list[bytes]) -> None:
    """Fresh processes are slow at first (connections, caches): load not measured, then drained."""
    from django.utils import timezone

    since = timezone.now()
    asyncio.run(keep_placing(stack.web_port, raws, WARM_UP_SECONDS, Results()))
    wait_until_drained(since, timezone.now(), stack.redis_port)


# --- measurements from the stored timestamps ------------------------------------------------


def order_to_shipment_lags(since, until) -> list[float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXTRACT(EPOCH FROM s.created_at - o.created_at) FROM sales_order o "
            "JOIN delivery_shipment s ON s.order_id = o.id WHERE o.created_at BETWEEN %s AND %s",
            [since, until],
        )
        return [float(row[0]) for row in cursor.fetchall()]


def clerk_to_sales_lags(since) -> list[float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXTRACT(EPOCH FROM recorded_at - occurred_at) FROM sales_orderstatuschange "
            "WHERE to_status = 'shipped' AND occurred_at >= %s",
            [since],
        )
        return [float(row[0]) for row in cursor.fetchall()]


def pgbench_tps(database_url: str, clients: int, seconds: int) -> float:
    parts = urlparse(database_url)
    bindir = next(
        (p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True) if (p / "pgbench").exists()), None
    )
    pgbench = str(bindir / "pgbench") if bindir else "pgbench"
    psql = str(bindir / "psql") if bindir else "psql"
    database = parts.path[1:]
    conn = ["-h", parts.hostname, "-p", str(parts.port), "-U", parts.username or "postgres"]
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    subprocess.run(
        [psql, *conn, "-q", "-f", str(HERE / "pgbench_setup.sql"), database], env=env, check=True, capture_output=True
    )
    out = subprocess.run(
        [pgbench, *conn, "-n", "-f", str(HERE / "pgbench_order.sql"), "-c", str(clients), "-j", str(clients),
         "-T", str(seconds), database],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


# --- the targets (issue 12) -------------------------------------------------------------------

CPU_MS_PER_ORDER = 6.0
SENTRY_EXTRA_MS_PER_ORDER = 0.5
PGBENCH_RATIO, PGBENCH_RATIO_CLIENTS = 0.10, 8
HALF_LOAD_P99_MS = 50.0
LAG_P99_MS = 250.0
# Consumers keep up: drained this soon after the load, and messages in flight grew by no more
# than this over the load (second half against first half).
DRAINED_SECONDS, IN_FLIGHT_GROWTH = 2.0, 10.0


def targets(report: dict) -> list[dict]:
    """Each target with what was measured and whether it is met (None: not measured in this run)."""
    rows = []

    def target(name: str, measured: str, met: bool | None) -> None:
        rows.append({"target": name, "measured": measured, "met": met})

    top = max(report["levels"], key=lambda level: level["orders_per_second"])
    at_top = f"at {top['clients']} clients, the highest rate"
    system = top["cpu_ms_per_order"]["system"]
    target(f"CPU per order ≤ {CPU_MS_PER_ORDER} ms, the system's processes {at_top}", f"{system} ms",
           system <= CPU_MS_PER_ORDER)  # fmt: skip
    sentry = report.get("sentry")
    name = f"Sentry on adds ≤ {SENTRY_EXTRA_MS_PER_ORDER} ms of CPU per order"
    if sentry:
        extra = sentry["extra_cpu_ms_per_order"]
        target(f"{name} (at {sentry['clients']} clients)", f"{extra} ms", extra <= SENTRY_EXTRA_MS_PER_ORDER)
    else:
        target(name, "no --sentry", None)
    level = next((level for level in report["levels"] if level["clients"] == PGBENCH_RATIO_CLIENTS), None)
    name = f"orders/s ≥ {PGBENCH_RATIO} × pgbench tps at {PGBENCH_RATIO_CLIENTS} clients"
    if level:
        ratio = level["ratio_to_pgbench"]
        target(name, f"{ratio} ({level['orders_per_second']} / {level['pgbench_order_tps']})", ratio >= PGBENCH_RATIO)
    else:
        target(name, f"no level of {PGBENCH_RATIO_CLIENTS} clients", None)
    half = report.get("half_load")
    if half:
        p99 = half["latency_ms"][99]
        target(f"p99 order latency ≤ {HALF_LOAD_P99_MS:g} ms at half load", f"{p99} ms", p99 <= HALF_LOAD_P99_MS)
        p99 = half["order_to_shipment_ms"][99]
        target(f"order → shipment p99 ≤ {LAG_P99_MS:g} ms at half load", f"{p99} ms", p99 <= LAG_P99_MS)
        p99, reached, made = half["clerk_to_sales_ms"][99], half["clerk_changes_reached_sales"], half["clerk_codes"]
        made = made.get("200", 0)
        target(f"clerk change → sales p99 ≤ {LAG_P99_MS:g} ms at half load, every change reached sales",
               f"{p99} ms, {reached} of {made}", p99 <= LAG_P99_MS and reached >= made)  # fmt: skip
    else:
        target("half load", "not run", None)
    drained, growth = top["drained_seconds_after_load"], top["backlog"].get("in_flight_growth", 0.0)
    target(
        f"consumers keep up {at_top}: drained ≤ {DRAINED_SECONDS:g} s after the load, "
        f"messages in flight grew by ≤ {IN_FLIGHT_GROWTH:g}",
        f"drained in {drained} s, grew by {growth}",
        drained <= DRAINED_SECONDS and growth <= IN_FLIGHT_GROWTH,  # NaN (never drained) is not met
    )
    return rows


# --- the run --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="2,4,8", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=int, default=20, help="seconds of load per level")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2, help="pool size (prefork, threads; solo: 1)")
    parser.add_argument("--workers-per-queue", type=int, default=2, help="0: one worker for both queues")
    parser.add_argument("--worker-pool", default="solo", choices=["solo", "prefork", "threads"])
    parser.add_argument("--clerk-share", type=float, default=0.25, help="clerk changes per order at half load")
    parser.add_argument(
        "--sentry", action="store_true", help="also the highest-rate level with Sentry off and on (a local capture)"
    )
    parser.add_argument(
        "--database", default="bench", help="the database made afresh for the run (dropped first if it exists)"
    )
    parser.add_argument("--out", default=str(ROOT / "bench-results.json"))
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    os.environ["PGAPPNAME"] = cpu.APPLICATION_NAME  # this process's own database sessions (load/cpu.py)
    bench_url = prepare_database(os.environ["DATABASE_URL"], args.database)
    setup_django(bench_url)

    from django.conf import settings
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.factories import ClerkFactory, CustomerFactory, ProductFactory
    from tests.integration.stack import Stack
    from tests.sentry_capture import CaptureServer

    skus = [ProductFactory(sku=f"BENCH-{n}", stock_quantity=100_000_000).sku for n in range(30)]
    customers = [CustomerFactory() for _ in range(max(levels))]
    tokens = [str(RefreshToken.for_user(customer).access_token) for customer in customers]
    clerk_token = str(RefreshToken.for_user(ClerkFactory()).access_token)
    address = {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}

    def order_body(n: int) -> dict:
        picks = [skus[n % 10], skus[10 + n % 10], skus[20 + n % 10]]
        return {"items": [{"sku": sku, "quantity": 1} for sku in picks], "shipping_address": address}

    def order_raws(clients: int) -> list[bytes]:
        return [http_post("/api/orders/", tokens[i], order_body(i)) for i in range(clients)]

    unlimited = dict.fromkeys(("USER", "ORDERS", "ORDERS_ADDRESS", "AUTH", "AUTH_ADDRESS"), "100000000/min")
    stack = Stack(
        logs=Path(tempfile.mkdtemp(prefix="bench-")),
        database_url=bench_url,
        secret_key=settings.SECRET_KEY,
        signing_key=settings.MESSAGE_SIGNING_KEY,
        web_workers=args.web_workers,
        worker_concurrency=args.worker_concurrency,
        worker_pool=args.worker_pool,
        workers_per_queue=args.workers_per_queue,
        extra_env={f"THROTTLE_{name}": rate for name, rate in unlimited.items()},  # logging as in production
    )
    capture = CaptureServer() if args.sentry else None
    if capture:
        threading.Thread(target=capture.serve_forever, daemon=True).start()
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "command": " ".join(sys.argv),
        "web_workers": args.web_workers,
        "worker_concurrency": args.worker_concurrency,
        "worker_pool": args.worker_pool,
        "workers_per_queue": args.workers_per_queue,
        "seconds_per_level": args.seconds,
        "cpu_counted": "the process groups the benchmark started (the stack) and the PostgreSQL backends of its "
        "database; the load generator apart (load/cpu.py)",
        "levels": [],
    }
    try:
        stack.start_all()
        stack.start_beat()
        for level in levels:
            measured = run_level(stack, order_raws(level), args.seconds)
            tps = pgbench_tps(bench_url, level, min(args.seconds, 10))
            measured |= {
                "pgbench_order_tps": round(tps),
                "ratio_to_pgbench": round(measured["orders_per_second"] / tps, 3),
            }
            report["levels"].append(measured)
            print(json.dumps(measured), flush=True)
        report["half_load"] = half_load(stack, order_raws(len(tokens)), clerk_token, report, args)
        print(json.dumps({"half_load": report["half_load"]}), flush=True)
        if capture:
            top = max(report["levels"], key=lambda level: level["orders_per_second"])
            report["sentry"] = with_and_without_sentry(stack, order_raws(top["clients"]), args.seconds, capture)
    finally:
        stack.stop()
        if capture:
            capture.shutdown()

    report["targets"] = targets(report)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nJSON: {args.out}")


def half_load(stack, order_raws: list[bytes], clerk_token: str, report: dict, args: argparse.Namespace) -> dict:
    """Open loop at half the highest rate measured: orders, and clerk changes with them."""
    from django.utils import timezone

    from delivery.models import Shipment

    rate = max(level["orders_per_second"] for level in report["levels"]) / 2
    wanted = int(rate * args.seconds * args.clerk_share) + 1
    pending = list(Shipment.objects.filter(status="pending").values_list("id", flat=True)[:wanted])
    clerk_raws = [http_post(f"/api/delivery/shipments/{sid}/ship/", clerk_token, {}) for sid in pending]
    since = timezone.now()
    started = time.perf_counter()
    orders, clerk = asyncio.run(
        at_fixed_rate(stack.web_port, order_raws, clerk_raws, rate, args.seconds, args.clerk_share)
    )
    elapsed = time.perf_counter() - started
    until = timezone.now()
    drained = wait_until_drained(since, until, stack.redis_port)
    lags, clerk_lags = order_to_shipment_lags(since, until), clerk_to_sales_lags(since)
    return {
        "orders_per_second": round(orders.codes.get(201, 0) / elapsed, 1),
        "latency_ms": percentiles_ms(orders.latencies, (50, 95, 99)),
        "codes": {str(code): count for code, count in sorted(orders.codes.items())},
        "order_to_shipment_ms": percentiles_ms(lags),
        "clerk_share": args.clerk_share,
        "clerk_changes": len(clerk.latencies),
        "clerk_codes": {str(code): count for code, count in sorted(clerk.codes.items())},
        "clerk_changes_reached_sales": len(clerk_lags),
        "clerk_to_sales_ms": percentiles_ms(clerk_lags),
        "drained_seconds_after_load": round(drained, 2),
    }


def print_table(report: dict) -> None:
    print(f"\nmachine: {report['machine']}")
    print(
        f"web workers: {report['web_workers']}, Celery workers per queue: {report['workers_per_queue']} "
        f"(pool {report['worker_pool']})"
    )
    header = (
        f"{'clients':>7} {'orders/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'ord→shp p50':>11} "
        f"{'p99':>7} {'max backlog':>11} {'drained s':>9} {'pgbench tps':>11} {'ratio':>6}  codes"
    )
    print(header)
    for level in report["levels"]:
        backlog = level["backlog"]
        most = max(
            (backlog.get(k, 0) for k in ("max_sales_outbox", "max_delivery_outbox", "max_redis_queued")), default=0
        )
        print(
            f"{level['clients']:>7} {level['orders_per_second']:>9} {level['latency_ms'][50]:>7} "
            f"{level['latency_ms'][95]:>7} {level['latency_ms'][99]:>7} {level['order_to_shipment_ms'][50]:>11} "
            f"{level['order_to_shipment_ms'][99]:>7} {most:>11} {level['drained_seconds_after_load']:>9} "
            f"{level['pgbench_order_tps']:>11} "
            f"{level['ratio_to_pgbench']:>6}  {level['codes']}"
        )
    print("CPU ms per order, load and drain (/proc; the system: the processes the benchmark started and the")
    print("PostgreSQL backends of its database; the load generator apart):")
    for level in report["levels"]:
        print(f"{level['clients']:>7}  {cpu_line(level)}")
    half = report.get("half_load")
    if half:
        print(
            f"half load (open loop), {half['orders_per_second']} orders/s, {half['clerk_share']} clerk changes/order: "
            f"order latency p50/p95/p99 {half['latency_ms'][50]}/{half['latency_ms'][95]}/{half['latency_ms'][99]} ms,"
            f" order → shipment p50/p99 {half['order_to_shipment_ms'][50]}/{half['order_to_shipment_ms'][99]} ms, "
            f"clerk change → sales p50/p99 {half['clerk_to_sales_ms'][50]}/{half['clerk_to_sales_ms'][99]} ms "
            f"({half['clerk_changes_reached_sales']} of {half['clerk_changes']} reached sales), codes {half['codes']}"
            f" / {half['clerk_codes']}"
        )
    sentry = report.get("sentry")
    if sentry:
        print(f"Sentry, {sentry['clients']} clients, back to back (items it received: {sentry['items_received']}):")
        for run in sentry["runs"]:
            print(f"{run['sentry']:>7}  {run['orders_per_second']} orders/s; {cpu_line(run)}")
    print("\ntargets (issue 12):")
    for row in report["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[row["met"]]
        print(f"  {verdict:<12}  {row['target']}: {row['measured']}")


def cpu_line(level: dict) -> str:
    return ", ".join(f"{kind} {ms}" for kind, ms in level["cpu_ms_per_order"].items()) + (
        f"; load generator {level['load_generator_cpu_ms_per_order']}"
    )


if __name__ == "__main__":
    main()
