"""Startup trims for fast-forward (issue 14, item 3): the plant's six-element arrays never
want BLAS threads, and starting OpenBLAS's pool doubled numpy's import time (~105 ms to
~52 ms on the 2-core VM). `sim` asks for one thread before numpy is imported, unless the
user has chosen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import os, sim, numpy; print(os.environ.get('OPENBLAS_NUM_THREADS'))"


@pytest.mark.parametrize("chosen, expected", [(None, "1"), ("2", "2")])
def test_sim_asks_for_one_blas_thread_unless_the_user_chose(chosen, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if chosen is not None:
        env["OPENBLAS_NUM_THREADS"] = chosen
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == expected
