"""The CPU time the benchmark's system uses, read from /proc: only what the benchmark started.

The system is the processes of its stack (tests/integration/stack.py starts each in a session of
its own, so each is a process group holding it and whatever it forks: gunicorn's workers, a
prefork pool's children) and the PostgreSQL backends of the benchmark's own database. Another
gunicorn, worker or PostgreSQL database on the machine is not counted, nor is PostgreSQL's own
housekeeping (checkpointer, WAL writer, autovacuum), which serves every database of the server.
The load generator (this process and its own database sessions, which it names
``APPLICATION_NAME``) is counted apart: it is not part of the system's cost.

A process counts with the CPU it used between two readings; one that ends between them (a
backend whose connection closed after CONN_MAX_AGE, a worker replaced) is not counted for the
time before it ended, and one that starts between them counts whole.
"""

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

# The kinds of process the system's CPU is reported by (a stack with one worker for both queues
# has "worker" instead of the two).
KINDS = ("web", "worker-delivery", "worker-sales", "worker", "relay", "beat", "postgresql", "redis")
LOAD_GENERATOR = "load generator"
# libpq gives it to every connection this process opens (PGAPPNAME), so its sessions are told apart.
APPLICATION_NAME = "load.bench"

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Reading:
    """CPU seconds used so far, by process: ``pid: (kind, seconds)``."""

    processes: dict[int, tuple[str, float]] = field(default_factory=dict)


def kind_of(name: str) -> str:
    """A stack process's kind from its name: ``worker-delivery-2`` → ``worker-delivery``."""
    return re.sub(r"-\d+$", "", name)


def read(process_groups: dict[int, str], backends: dict[int, bool]) -> Reading:
    """CPU so far of every process in ``process_groups`` (process group id: the name of the stack
    process that leads it), of the database backends ``backends`` (pid: whether it is one of the
    load generator's own sessions), and of this process."""
    kinds = {pgid: kind_of(name) for pgid, name in process_groups.items()}
    reading = Reading({os.getpid(): (LOAD_GENERATOR, time.process_time())})
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            # After the command name (which may hold spaces and parentheses): state, ppid, pgrp, …
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        kind = kinds.get(int(fields[2]))
        if kind is None and pid in backends:
            kind = LOAD_GENERATOR if backends[pid] else "postgresql"
        if kind is not None:
            reading.processes[pid] = (kind, (int(fields[11]) + int(fields[12])) / _TICK)  # utime + stime
    return reading


def database_backends(cursor) -> dict[int, bool]:
    """The backends of the cursor's database: pid → whether it is the load generator's own."""
    cursor.execute(
        "SELECT pid, application_name = %s FROM pg_stat_activity WHERE datname = current_database()",
        [APPLICATION_NAME],
    )
    return dict(cursor.fetchall())


@dataclass
class Usage:
    """CPU milliseconds per order between two readings, by kind; the system's total without the
    load generator; how many processes of each kind counted."""

    ms_per_order: dict[str, float]
    system_ms_per_order: float
    load_generator_ms_per_order: float
    processes: dict[str, int]


def usage(before: Reading, after: Reading, orders: int) -> Usage:
    used = dict.fromkeys((*KINDS, LOAD_GENERATOR), 0.0)
    counted = dict.fromkeys(used, 0)
    for pid, (kind, seconds) in after.processes.items():
        earlier = before.processes.get(pid)
        used[kind] += seconds - (earlier[1] if earlier and earlier[0] == kind else 0.0)
        counted[kind] += 1
    per_order = {kind: round(seconds * 1000 / max(orders, 1), 2) for kind, seconds in used.items()}
    load_generator = per_order.pop(LOAD_GENERATOR)
    del counted[LOAD_GENERATOR]
    present = {kind: ms for kind, ms in per_order.items() if counted[kind]}
    return Usage(
        ms_per_order=present,
        system_ms_per_order=round(sum(present.values()), 2),
        load_generator_ms_per_order=load_generator,
        processes={kind: count for kind, count in counted.items() if count},
    )
