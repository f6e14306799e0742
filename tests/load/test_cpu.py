"""The benchmark's CPU accounting (load/cpu.py): the process groups it started, children included,
and nothing else on the machine."""

import os
import signal
import subprocess
import sys

import pytest

from load import cpu

# Forks once; parent and child each burn a little CPU, say their pid, and wait to be killed.
BURN = """
import os, sys, time
child = os.fork()
end = time.process_time() + 0.2
while time.process_time() < end:
    pass
os.write(1, f"{os.getpid()}\\n".encode())  # one write: the two processes' lines cannot mix
time.sleep(60)
"""


@pytest.fixture
def started():
    """Start processes each in a session (a process group) of its own; kill them after the test."""
    processes = []

    def start() -> tuple[int, set[int]]:
        process = subprocess.Popen(
            [sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        processes.append(process)
        lines = (line for line in process.stdout if line.strip())
        return process.pid, {int(next(lines)), int(next(lines))}

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_reading_counts_the_groups_given_with_their_children_and_nothing_else(started):
    # Given a process of the stack that forked a child, and another process that is not the stack's
    leader, family = started()
    _, outsiders = started()

    # When the CPU is read for the stack's process group
    reading = cpu.read({leader: "worker-sales-1"}, backends={})

    # Then the leader and its child count as a worker-sales each, with the CPU they burnt
    counted = {pid: kind for pid, (kind, _) in reading.processes.items()}
    assert {pid for pid, kind in counted.items() if kind == "worker-sales"} == family
    assert min(seconds for kind, seconds in reading.processes.values() if kind == "worker-sales") >= 0.15
    assert counted[os.getpid()] == cpu.LOAD_GENERATOR
    assert outsiders & counted.keys() == set()


def test_usage_is_the_cpu_between_two_readings_per_order_by_kind():
    # Given two readings: a web process in both, a backend that started between them and one
    # that ended, and the load generator
    before = cpu.Reading({10: ("web", 1.0), 20: ("postgresql", 5.0), 99: (cpu.LOAD_GENERATOR, 2.0)})
    after = cpu.Reading({10: ("web", 1.5), 21: ("postgresql", 0.25), 99: (cpu.LOAD_GENERATOR, 2.1)})

    # When the usage of 100 orders is worked out
    used = cpu.usage(before, after, orders=100)

    # Then each kind that ran has its ms per order; the load generator is not the system's
    assert used == cpu.Usage(
        ms_per_order={"web": 5.0, "postgresql": 2.5},
        system_ms_per_order=7.5,
        load_generator_ms_per_order=1.0,
        processes={"web": 1, "postgresql": 1},
    )


@pytest.mark.parametrize(
    ("name", "kind"), [("web", "web"), ("worker-delivery-2", "worker-delivery"), ("worker", "worker")]
)
def test_a_stack_process_kind_is_its_name_without_its_number(name, kind):
    assert cpu.kind_of(name) == kind
