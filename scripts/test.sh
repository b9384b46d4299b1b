#!/usr/bin/env bash
# Install everything and run the whole test suite: ruff, mypy, then pytest (which starts its
# own PostgreSQL on loopback). Any failure, or pytest collecting no tests (exit 5), fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
