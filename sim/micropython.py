"""Real MicroPython for the simulator and the tests: the WebAssembly build on the npm registry
(@micropython/micropython-webassembly-pyscript, pinned in package.json) run by Node.js
through sim/mp_runner.mjs, which ships inside this package.

`find_micropython()` locates the npm package: the CHAIR_MICROPYTHON environment variable (the
package's directory or its micropython.mjs), else ``node_modules`` in the project root or in
the working directory or any directory above it. `run(mode, config)` starts the runner.
Both raise `MicroPythonMissing` (a UsageError) naming the step that installs what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from chair.errors import UsageError

PACKAGE = "@micropython/micropython-webassembly-pyscript"
ENV = "CHAIR_MICROPYTHON"
RUNNER = Path(__file__).resolve().with_name("mp_runner.mjs")
ROOT = Path(__file__).resolve().parents[1]


class MicroPythonMissing(UsageError):
    """Node.js or the MicroPython npm package is not installed."""


def find_micropython(cwd: Path | None = None) -> Path:
    """The absolute path of the package's micropython.mjs; MicroPythonMissing if none."""
    override = os.environ.get(ENV)
    if override:
        path = Path(override).expanduser().resolve()
        path = path / "micropython.mjs" if path.is_dir() else path
        if not path.is_file():
            raise MicroPythonMissing(f"{ENV}={override}: no micropython.mjs there")
        return path
    start = (cwd or Path.cwd()).resolve()
    for folder in (ROOT, start, *start.parents):
        path = folder / "node_modules" / PACKAGE / "micropython.mjs"
        if path.is_file():
            return path
    if (ROOT / "package.json").is_file():  # a clone: the project's own lock file
        how = (f"Run `npm ci` in {ROOT} (Node.js 20 or newer), or set {ENV} to the "
               f"package's directory")
    else:  # installed from a wheel: no package.json beside the code
        how = (f"Install it with `npm install {PACKAGE}@1.27.0` in a folder of your choice "
               f"(Node.js 20 or newer) and run from that folder, or set {ENV} to "
               f"<folder>/node_modules/{PACKAGE}")
    raise MicroPythonMissing(
        f"MicroPython is not installed: no node_modules/{PACKAGE} in {ROOT} or in {start} "
        f"or above it. {how}")


def node() -> str:
    """The `node` executable; MicroPythonMissing if it is not on PATH."""
    found = shutil.which("node")
    if found is None:
        raise MicroPythonMissing("Node.js is not installed (no `node` on PATH): MicroPython "
                                 "runs under it; install Node.js 20 or newer, then `npm ci`")
    return found


def command(mode: str, config: dict) -> list[str]:
    """The argv that runs `mode` of the runner with `config` (the MicroPython path added)."""
    config = {"micropython": str(find_micropython()), **config}
    return [node(), str(RUNNER), mode, json.dumps(config)]


def run(mode: str, config: dict, timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run `mode` of the runner to its end; its output captured as text."""
    return subprocess.run(command(mode, config), capture_output=True, text=True,
                          timeout=timeout, check=False)


def run_tests(files: list[tuple[Path, str]], modules: list[str],
              timeout: float = 300.0) -> dict:
    """Run the `test_*` functions of `modules` under MicroPython, with `files` ((source,
    destination) pairs) copied in first; the runner's summary: "implementation", "passed"
    (names) and "failed" ({"test", "traceback"}). RuntimeError if the runner itself fails."""
    done = run("test", {"files": [[str(s), d] for s, d in files], "modules": modules},
               timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the MicroPython runner failed (exit {done.returncode}):\n"
                           f"{done.stderr[-4000:]}")
    return json.loads(lines[-1])
