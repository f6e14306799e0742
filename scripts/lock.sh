#!/usr/bin/env bash
# Compiles requirements.in and requirements-dev.in (pip-tools) into requirements.txt and
# requirements-dev.txt: every package pinned, with the hashes of all its files on the package
# index, so that any machine installs exactly these files (pip checks them).
# Extra arguments go to both pip-compile runs, e.g. scripts/lock.sh --upgrade-package django
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
# Resolve against the public index alone: a machine's own pip configuration (a local wheel
# folder, extra file:// indexes, constraints) must not leak into the lock, whose pins and
# hashes every other machine installs.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT PIP_NO_INDEX
# What the generated files say to run again.
export CUSTOM_COMPILE_COMMAND="make lock"
# --allow-unsafe: pip and setuptools are pinned too (pip-tools needs pip), else pip's
# hash-checking mode refuses the file. --strip-extras: the pins say what, not why (pip
# refuses extras in a constraints file, and requirements-dev.in uses requirements.txt as one).
compile=(pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras)
"${compile[@]}" "$@" --output-file requirements.txt requirements.in
# The runtime pins constrain the dev lock, so both install the same version of every package.
"${compile[@]}" "$@" --output-file requirements-dev.txt requirements-dev.in
say "locked: requirements.txt, requirements-dev.txt"
