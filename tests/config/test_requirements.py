"""The locks (requirements.txt, requirements-dev.txt) against their sources: `make lock` makes
them; these catch a hand edit, or a package added to a .in file without locking again."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(lock: str) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes) of every package in a pip-compile lock."""
    entries = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", lock, re.M)
    return {
        normalized(name): (version, frozenset(re.findall(r"[0-9a-f]{64}", hashes))) for name, version, hashes in entries
    }


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def named_in(source: str) -> set[str]:
    """The packages a .in file names (its own lines, not the files it includes)."""
    lines = (line.split("#", 1)[0].strip() for line in source.splitlines())
    return {normalized(re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]) for line in lines if line and line[0] != "-"}


def test_every_package_named_in_a_source_is_in_its_lock():
    for source, lock in [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]:
        locked = set(pins((ROOT / lock).read_text()))

        assert named_in((ROOT / source).read_text()) - locked == set(), source


def test_every_locked_package_has_a_version_and_hashes():
    for lock in ["requirements.txt", "requirements-dev.txt"]:
        text = (ROOT / lock).read_text()
        requirement_lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]

        assert len(requirement_lines) == len(pins(text)), lock
        assert [name for name, (_, hashes) in pins(text).items() if not hashes] == [], lock


def test_the_dev_lock_holds_every_runtime_pin_with_the_same_files():
    runtime = pins((ROOT / "requirements.txt").read_text())
    dev = pins((ROOT / "requirements-dev.txt").read_text())

    assert {name: dev.get(name) for name in runtime} == runtime
