"""Shared set-up of the domain tests.

The test modules import their builders and strategies from ``domain_builders`` (next to this
file). pytest's default import mode puts this folder on ``sys.path`` already; adding it here keeps
the import working under ``--import-mode=importlib`` too.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
