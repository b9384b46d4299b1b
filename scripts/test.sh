#!/usr/bin/env bash
# Install everything and run the whole test suite: ruff, mypy, then pytest (which starts its
# own PostgreSQL on loopback), then pytest again with the clock 400 days ahead (faketime). Any
# failure, or pytest collecting no tests (exit 5), fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
# The same suite with the clock 400 days ahead (libfaketime): no test may depend on the date.
# libfaketime 0.9.10 moves the monotonic clock too and does not intercept sem_clockwait, so a
# timed wait that nothing wakes (`serve --tick`) blocks for the whole offset (and with
# FAKETIME_DONT_FAKE_MONOTONIC its clock_nanosleep fails with EINVAL): those few tests, marked
# timed_waits, run only in the first pass.
echo "test.sh: the suite again under faketime, 400 days ahead" >&2
faketime -f '+400d' .venv/bin/python -m pytest -q -p no:cacheprovider -m "not timed_waits" "$@"
