#!/usr/bin/env bash
# Install vmvault and start `vmvault serve` on the embedded default:
# SQLite catalog and local vaults in $VMVAULT_HOME (default ./vmvault-data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run
export VMVAULT_HOME="${VMVAULT_HOME:-$PWD/vmvault-data}"
exec .venv/bin/vmvault serve "$@"
