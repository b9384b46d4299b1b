#!/usr/bin/env bash
# Prepare a machine for vmvault: Debian packages (when run as root) and the virtual environment.
# Usage: scripts/bootstrap.sh [run|test]   (test also installs what the test suite needs)
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
python="${PYTHON:-python3}"

# qemu-utils: qemu-img and qemu-nbd read qcow2 images; python3-libnbd: libnbd's Python bindings.
debs=(qemu-utils python3-libnbd)
# Debian's python3 needs python3-venv for `python3 -m venv`; other Pythons bring their own.
"$python" -c "import ensurepip, venv" 2>/dev/null || debs+=(python3-venv)
if [[ "$mode" == test ]]; then
  # faketime: the suite runs a second time a year ahead (no test may depend on the date).
  debs+=(postgresql xfsprogs restic faketime)
fi

missing=()
for pkg in "${debs[@]+"${debs[@]}"}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the packaged cluster; vmvault's tests start their own, so stop it again.
    if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v systemctl >/dev/null; then
      systemctl stop postgresql >/dev/null 2>&1 || true
    fi
  else
    echo "bootstrap: missing Debian packages ${missing[*]}; run as root to install them" >&2
  fi
fi

if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
.venv/bin/python - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"vmvault needs Python 3.11 or newer, this is {sys.version.split()[0]}")
PY
# libnbd's Python bindings come from Debian (they are not on PyPI); make just that module
# visible to the virtual environment.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [[ -f /usr/lib/python3/dist-packages/nbd.py ]]; then
  mkdir -p .venv/debian-libnbd
  ln -sf /usr/lib/python3/dist-packages/nbd.py .venv/debian-libnbd/nbd.py
  for so in /usr/lib/python3/dist-packages/libnbdmod*.so; do ln -sf "$so" .venv/debian-libnbd/; done
  echo "$PWD/.venv/debian-libnbd" > "$site/vmvault-debian-libnbd.pth"
fi

stamp=.venv/.vmvault-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
fi
# Byte-compile vmvault's own modules: every command imports them, and an environment with
# PYTHONDONTWRITEBYTECODE set would otherwise compile them from source at each start.
.venv/bin/python -m compileall -q src >/dev/null
