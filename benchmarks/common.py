"""What every benchmark shares: result rows, the machine, child processes, RSS."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_average() -> float:
    """The one-minute load average now (other work competing for the cores), or -1."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return -1.0


@dataclass
class Row:
    """One figure: what it is, what it must reach, what it reached.

    `load`: the one-minute load average when the row was made (just after its measurement).
    """

    key: str
    figure: str
    target: str
    measured: str
    value: float | None
    unit: str
    ok: bool | None  # None: a reference figure with no target of its own
    note: str = ""
    load: float = field(default_factory=load_average)

    @property
    def verdict(self) -> str:
        return "ref" if self.ok is None else "PASS" if self.ok else "FAIL"

    def as_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict}


def machine() -> dict:
    """The machine the figures came from."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "system": f"{platform.system()} {platform.release()}", "numpy": numpy.__version__}


#: Child processes cache their bytecode here (as Python does by default, but outside the
#: checkout), even where the environment says PYTHONDONTWRITEBYTECODE: a developer's
#: second run does not compile the package again, and neither does the benchmark's.
PYCACHE = os.path.join(tempfile.gettempdir(), "chair-benchmarks-pycache")


def child_env() -> dict[str, str]:
    """The environment for a child Python that must import this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env


def python(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run this interpreter on `args` from the repository root; raise on failure."""
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=child_env(),
                          capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def python_json(*args: str) -> dict:
    """Run a benchmark worker (`python -m benchmarks.X ...`) and read its JSON line."""
    return json.loads(python(*args).stdout.strip().splitlines()[-1])


def rss_kb() -> int:
    """This process's resident set now, in KiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError):
        return 0


def peak_rss_kb() -> int:
    """This process's peak resident set, in KiB.

    Linux: VmHWM, which starts afresh at exec. (`ru_maxrss` does not: a child started by a
    big parent reports the parent's size from before its exec.)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


median = statistics.median
