"""tests/firmware/mp_test_board.py under real MicroPython: the WebAssembly build from npm
(@micropython/micropython-webassembly-pyscript, installed by the README's test command
into node_modules/) run by Node.js. Skipped when either is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"

RUNNER = r"""
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
const root = process.argv[1];
const mp = await loadMicroPython({stdout: (t) => process.stdout.write(t + "\n"),
                                  stderr: (t) => process.stderr.write(t + "\n")});
for (const d of ["/work", "/work/firmware", "/work/firmware/boards"]) mp.FS.mkdir(d);
mp.FS.writeFile("/work/firmware/__init__.py", "");
for (const f of fs.readdirSync(path.join(root, "firmware/boards"))) {
  if (f.endsWith(".py") || f.endsWith(".json")) {
    mp.FS.writeFile("/work/firmware/boards/" + f,
                    fs.readFileSync(path.join(root, "firmware/boards", f)));
  }
}
try {
  mp.runPython("import os, sys\nos.chdir('/work')\nsys.path.insert(0, '/work')\n");
  mp.runPython(fs.readFileSync(path.join(root, "tests/firmware/mp_test_board.py"), "utf8"));
} catch (e) { console.error(String(e.message || e)); process.exit(1); }
"""


def test_the_board_layer_runs_under_micropython() -> None:
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        pytest.skip("needs node and npm's @micropython/micropython-webassembly-pyscript "
                    "in node_modules/ (the README's test command installs it)")
    done = subprocess.run([node, "--input-type=module", "-e", RUNNER, str(ROOT)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS") >= 5 and "FAIL" not in done.stdout, done.stdout
