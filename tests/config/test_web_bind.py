"""Where the web process listens: every interface in production (a platform routes $PORT to it),
loopback only for `make run`, whose demo log-ins must not be reachable from the network."""

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.config.test_settings import PRODUCTION
from tests.integration.stack import free_port, wait_until

pytestmark = pytest.mark.integration  # starts gunicorn

ROOT = Path(__file__).resolve().parents[2]


def procfile_command(name: str) -> str:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return next(line.split(":", 1)[1].strip() for line in lines if line.startswith(f"{name}:"))


@contextmanager
def running_web(env: dict[str, str], log: Path) -> Iterator[None]:
    """The Procfile's `web`, started as a platform would (a shell, with $PORT), its output in
    ``log``; stopped on leaving (SIGTERM: its workers finish their requests first)."""
    with log.open("w") as out:
        web = subprocess.Popen(
            ["sh", "-c", f"exec {procfile_command('web')}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


def listening_address(env: dict[str, str], tmp_path: Path) -> str:
    """Start the Procfile's `web` and return the address gunicorn says it bound."""
    log = tmp_path / "web.log"
    with running_web(env, log):
        wait_until(lambda: "Listening at: " in log.read_text(), timeout=30, interval=0.1, what="gunicorn bound")
    return re.search(r"Listening at: http://(\S+) ", log.read_text()).group(1)


def test_production_web_listens_on_every_interface(tmp_path):
    port = free_port()

    address = listening_address({**PRODUCTION, "PORT": str(port)}, tmp_path)

    assert address == f"0.0.0.0:{port}"


@pytest.mark.parametrize(("bind", "expected"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")])
def test_web_listens_where_web_bind_address_says(tmp_path, bind, expected):
    port = free_port()

    address = listening_address({**PRODUCTION, "PORT": str(port), "WEB_BIND_ADDRESS": bind}, tmp_path)

    assert address == f"{expected}:{port}"


def test_web_makes_no_control_socket(tmp_path):
    """gunicorn's control socket would sit at $HOME/.gunicorn/gunicorn.ctl, shared by every
    gunicorn of the user: two on one host took it from each other."""
    home = tmp_path / "home"
    home.mkdir()

    listening_address({**PRODUCTION, "PORT": str(free_port()), "HOME": str(home)}, tmp_path)

    assert list(home.iterdir()) == []
