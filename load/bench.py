"""Load benchmark of the full stack on loopback: gunicorn, Celery worker, relay, PostgreSQL, Redis.

    scripts/bench.sh [--levels 2,4,8] [--seconds 20] [--web-workers 2] [--workers-per-queue 2]

At each concurrency level, that many clients keep placing valid orders (JWT, real bodies) for a
fixed time. Reported per level: orders/s, latency p50/p95/p99, answers by status code, the
order → shipment lag p50/p99 (from the stored timestamps), the outbox/queue backlog over the
run, and pgbench's tps for an order-shaped transaction at the same client count, with the ratio.
Then, at a fixed rate of half the highest orders/s measured (open loop: a request leaves on
schedule whether or not earlier ones have answered), orders and clerk changes (--clerk-share
per order) give the latency and both lags at half load: order → shipment and clerk change → sales.
A table on stdout, and JSON.

The client is a small asyncio HTTP/1.1 client (standard library): on a 2-core machine every
cycle the load generator spends is taken from the server, and this one spends few.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

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


def prepare_database(server_url: str) -> str:
    """A fresh database ``bench`` on the server of ``server_url``, migrated."""
    import psycopg2

    parts = urlparse(server_url)
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port, user=parts.username, password=parts.password, dbname=parts.path[1:]
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS bench WITH (FORCE)")
        cursor.execute("CREATE DATABASE bench")
    admin.close()
    bench_url = parts._replace(path="/bench").geturl()
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


ROLES = {"gunicorn": "web", "celery": "workers", "outbox_relay": "relay", "postgres": "postgresql",
         "redis-server": "redis", "load.bench": "load generator"}  # fmt: skip


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """Each live process of a role: its role and the CPU time (user + system) it has used.
    Every such process on the machine counts (PostgreSQL's own housekeeping too): run the
    benchmark on an otherwise quiet machine."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        role = next((role for marker, role in ROLES.items() if marker in cmdline), None)
        if role:
            found[int(proc.name)] = (role, (int(fields[11]) + int(fields[12])) / tick)  # utime, stime
    return found


def cpu_ms_per_order(before: dict, after: dict, orders: int) -> dict[str, float]:
    """CPU used between the two readings by role, per order (a process that ended meanwhile is
    not counted: short-lived ones are rare, every server here keeps its processes)."""
    used = dict.fromkeys(ROLES.values(), 0.0)
    for pid, (role, seconds) in after.items():
        used[role] += seconds - before.get(pid, (role, 0.0))[1]
    return {role: round(seconds * 1000 / max(orders, 1), 2) for role, seconds in used.items()}


class BacklogSampler(threading.Thread):
    """Every half second: messages in flight in each outbox, and messages waiting in Redis."""

    def __init__(self, redis_port: int) -> None:
        super().__init__(daemon=True)
        self.redis_port = redis_port
        self.samples: list[dict[str, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import redis
        from django.db import connection

        client = redis.Redis(port=self.redis_port)
        while not self.stopping.wait(0.5):
            with connection.cursor() as cursor:
                counts = {}
                for app in ("sales", "delivery"):
                    cursor.execute(
                        f"SELECT count(*) FROM {app}_outboxmessage WHERE state IN ('pending', 'awaiting_ack')"
                    )
                    counts[f"{app}_outbox"] = cursor.fetchone()[0]
            counts["redis_queued"] = client.llen("sales") + client.llen("delivery")
            self.samples.append(counts)
        connection.close()

    def summary(self) -> dict[str, int]:
        keys = ("sales_outbox", "delivery_outbox", "redis_queued")
        if not self.samples:
            return {}
        return {
            **{f"max_{key}": max(sample[key] for sample in self.samples) for key in keys},
            **{f"last_{key}": self.samples[-1][key] for key in keys},
        }


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


def wait_for_shipments(since, until, timeout: float = 120) -> float:
    from delivery.models import Shipment
    from sales.models import Order

    started = time.monotonic()
    orders = Order.objects.filter(created_at__range=(since, until)).count()
    while time.monotonic() - started < timeout:
        ids = Order.objects.filter(created_at__range=(since, until)).values_list("id", flat=True)
        if Shipment.objects.filter(order_id__in=list(ids)).count() >= orders:
            return time.monotonic() - started
        time.sleep(0.25)
    return float("nan")


def pgbench_tps(database_url: str, clients: int, seconds: int) -> float:
    parts = urlparse(database_url)
    bindir = next(
        (p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True) if (p / "pgbench").exists()), None
    )
    pgbench = str(bindir / "pgbench") if bindir else "pgbench"
    psql = str(bindir / "psql") if bindir else "psql"
    conn = ["-h", parts.hostname, "-p", str(parts.port), "-U", parts.username or "postgres"]
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    subprocess.run(
        [psql, *conn, "-q", "-f", str(HERE / "pgbench_setup.sql"), "bench"], env=env, check=True, capture_output=True
    )
    out = subprocess.run(
        [pgbench, *conn, "-n", "-f", str(HERE / "pgbench_order.sql"), "-c", str(clients), "-j", str(clients),
         "-T", str(seconds), "bench"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


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
    parser.add_argument("--out", default=str(ROOT / "bench-results.json"))
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    bench_url = prepare_database(os.environ["DATABASE_URL"])
    setup_django(bench_url)

    from django.conf import settings
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.factories import ClerkFactory, CustomerFactory, ProductFactory
    from tests.integration.stack import Stack

    skus = [ProductFactory(sku=f"BENCH-{n}", stock_quantity=100_000_000).sku for n in range(30)]
    customers = [CustomerFactory() for _ in range(max(levels))]
    tokens = [str(RefreshToken.for_user(customer).access_token) for customer in customers]
    clerk_token = str(RefreshToken.for_user(ClerkFactory()).access_token)
    address = {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}

    def order_body(n: int) -> dict:
        picks = [skus[n % 10], skus[10 + n % 10], skus[20 + n % 10]]
        return {"items": [{"sku": sku, "quantity": 1} for sku in picks], "shipping_address": address}

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
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "command": " ".join(sys.argv),
        "web_workers": args.web_workers,
        "worker_concurrency": args.worker_concurrency,
        "worker_pool": args.worker_pool,
        "workers_per_queue": args.workers_per_queue,
        "seconds_per_level": args.seconds,
        "levels": [],
    }
    try:
        stack.start_all()
        for level in levels:
            raws = [http_post("/api/orders/", tokens[i], order_body(i)) for i in range(level)]
            sampler = BacklogSampler(stack.redis_port)
            results = Results()
            since = timezone.now()
            sampler.start()
            cpu_before = cpu_seconds_by_process()
            started = time.perf_counter()
            asyncio.run(keep_placing(stack.web_port, raws, args.seconds, results))
            elapsed = time.perf_counter() - started
            until = timezone.now()
            drained = wait_for_shipments(since, until)
            cpu = cpu_ms_per_order(cpu_before, cpu_seconds_by_process(), results.codes.get(201, 0))
            sampler.stopping.set()
            sampler.join()
            lags = order_to_shipment_lags(since, until)
            placed = results.codes.get(201, 0)
            tps = pgbench_tps(bench_url, level, min(args.seconds, 10))
            report["levels"].append(
                {
                    "clients": level,
                    "orders_per_second": round(placed / elapsed, 1),
                    "latency_ms": percentiles_ms(results.latencies, (50, 95, 99)),
                    "codes": {str(code): count for code, count in sorted(results.codes.items())},
                    "order_to_shipment_ms": percentiles_ms(lags),
                    "backlog": sampler.summary(),
                    "drained_seconds_after_load": round(drained, 2),
                    "cpu_ms_per_order": cpu | {"all": round(sum(cpu.values()), 2)},
                    "pgbench_order_tps": round(tps),
                    "ratio_to_pgbench": round(placed / elapsed / tps, 3),
                }
            )
            print(json.dumps(report["levels"][-1]), flush=True)

        from delivery.models import Shipment

        rate = max(level["orders_per_second"] for level in report["levels"]) / 2
        wanted = int(rate * args.seconds * args.clerk_share) + 1
        pending = list(Shipment.objects.filter(status="pending").values_list("id", flat=True)[:wanted])
        clerk_raws = [http_post(f"/api/delivery/shipments/{sid}/ship/", clerk_token, {}) for sid in pending]
        order_raws = [http_post("/api/orders/", tokens[i], order_body(i)) for i in range(len(tokens))]
        since = timezone.now()
        started = time.perf_counter()
        orders, clerk = asyncio.run(
            at_fixed_rate(stack.web_port, order_raws, clerk_raws, rate, args.seconds, args.clerk_share)
        )
        elapsed = time.perf_counter() - started
        until = timezone.now()
        wait_for_shipments(since, until)
        time.sleep(1)
        lags, clerk_lags = order_to_shipment_lags(since, until), clerk_to_sales_lags(since)
        report["half_load"] = {
            "orders_per_second": round(orders.codes.get(201, 0) / elapsed, 1),
            "latency_ms": percentiles_ms(orders.latencies, (50, 95, 99)),
            "codes": {str(code): count for code, count in sorted(orders.codes.items())},
            "order_to_shipment_ms": percentiles_ms(lags),
            "clerk_share": args.clerk_share,
            "clerk_changes": len(clerk.latencies),
            "clerk_codes": {str(code): count for code, count in sorted(clerk.codes.items())},
            "clerk_changes_reached_sales": len(clerk_lags),
            "clerk_to_sales_ms": percentiles_ms(clerk_lags),
        }
        print(json.dumps({"half_load": report["half_load"]}), flush=True)
    finally:
        stack.stop()

    Path(args.out).write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nJSON: {args.out}")


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
    print("CPU ms per order, load and drain (from /proc):")
    for level in report["levels"]:
        print(f"{level['clients']:>7}  " + ", ".join(f"{k} {v}" for k, v in level["cpu_ms_per_order"].items()))
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


if __name__ == "__main__":
    main()
