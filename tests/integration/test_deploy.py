"""A deploy as an operator makes it: a fresh virtualenv holding requirements.txt alone (no dev
tools), every process of the Procfile started from it with only the environment API.md names,
and one order taken to a shipment over HTTP.

The rest of the suite runs in the dev virtualenv, which has more packages than production: a
runtime dependency missing from requirements.txt (kombu's Redis transport needs `packaging`, which
only the dev tools brought in) passed every other test while every worker died at start."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from delivery.models import Shipment
from sales.models import OutboxMessage as SalesOutbox
from tests.factories import ADDRESS, ProductFactory
from tests.integration.stack import ROOT, on_test_database, wait_until

pytestmark = pytest.mark.integration

# The system's own directories only: nothing of the dev virtualenv that runs the tests.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def procfile() -> dict[str, str]:
    """Each process of the Procfile: its `name: command` lines, as honcho and Heroku read them."""
    return dict(re.findall(r"^([A-Za-z0-9_-]+):[ \t]*(.+?)[ \t]*$", (ROOT / "Procfile").read_text(), re.M))


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    """A new virtualenv with `pip install -r requirements.txt` and nothing else (pip's cache
    and the machine's pip configuration are used, as an operator's install would)."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", ROOT / "requirements.txt"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-5000:]
    print(f"\nfresh virtualenv from requirements.txt: {time.monotonic() - start:.1f} s")
    return venv


@pytest.fixture
def deployed(transactional_db, tmp_path, runtime_venv):
    """Every Procfile process, run from the runtime virtualenv with `sh -c` on the test
    database and a Redis of its own. Yields the Stack that holds them (for its Redis, its
    HTTP helper and stopping them all)."""
    stack = on_test_database(logs=tmp_path)
    env = {
        # API.md's variables, DJANGO_DEBUG off, and PORT: nothing else of the app's.
        "DATABASE_URL": stack.env["DATABASE_URL"],
        "REDIS_URL": stack.redis_url,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "MESSAGE_SIGNING_KEY": settings.MESSAGE_SIGNING_KEY,
        "DJANGO_HTTPS": "0",  # plain HTTP on loopback
        "DJANGO_DEBUG": "0",
        "PORT": str(stack.web_port),
        # What any process has. TMPDIR keeps this run's temporary files (the metrics files among
        # them) apart from other runs on the machine.
        "PATH": f"{runtime_venv / 'bin'}:{SYSTEM_PATH}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
    }
    try:
        stack.start_redis()
        for name, command in procfile().items():
            log = open(tmp_path / f"{name}.log", "a")  # noqa: SIM115 - the child keeps writing to it
            stack.processes[name] = subprocess.Popen(
                ["sh", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        yield stack
    finally:
        stack.stop()
        # Shown by pytest only when the test failed: what each process said last.
        print(stack.log_tails())


def test_a_fresh_install_of_requirements_txt_runs_every_procfile_process_and_ships_an_order(deployed):
    ProductFactory(sku="MUG-1", stock_quantity=10)
    processes = set(procfile())
    wait_until(lambda: deployed.request("GET", "/healthz")[0] == 200, timeout=60, interval=0.2, what="web up")

    code, user = deployed.request(
        "POST", "/api/auth/register/", {"username": "ada", "password": "an-unguessable-pass-7", "email": "a@b.example"}
    )
    assert (code, user["username"]) == (201, "ada")
    code, tokens = deployed.request(
        "POST", "/api/auth/token/", {"username": "ada", "password": "an-unguessable-pass-7"}
    )
    assert (code, sorted(tokens)) == (200, ["access", "refresh"])
    code, order = deployed.request(
        "POST", "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 2}], "shipping_address": ADDRESS},
        tokens["access"],
    )  # fmt: skip
    assert (code, order["status"]) == (201, "pending_shipment")

    # The delivery worker made the shipment; the relay applied its acknowledgement.
    wait_until(lambda: Shipment.objects.filter(order_id=order["id"]).exists(), timeout=60, what="shipment made")
    wait_until(lambda: SalesOutbox.objects.get().state == "done", timeout=60, what="order.created acknowledged")
    # beat is up: the database scheduler has written the schedule.
    wait_until(
        lambda: (
            PeriodicTask.objects.filter(name__in=settings.CELERY_BEAT_SCHEDULE).count()
            == len(settings.CELERY_BEAT_SCHEDULE)
        ),
        timeout=60,
        what="beat's schedule in the database",
    )
    assert processes >= {"web", "beat", "relay"}
    assert len([name for name in processes if "worker" in name]) >= 1
    assert {name: deployed.processes[name].poll() for name in processes} == dict.fromkeys(processes)
