"""The package as a user gets it: a wheel that carries the programs and the sim:// handler.

Issue 9 item 16: `pip install .`, a wheel or pipx shipped no programs (`chair list` printed
nothing, `chair run lumbar` found none). The wheel is built from a copy of the sources (so
no stale `build/` can hide a missing file), installed into a fresh virtual environment and
run from another directory. The fresh environment borrows this one's installed dependencies
(numpy, orjson, pyserial, transitions) through a .pth file; `chair` and `sim` come from the wheel
alone, which the test checks.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from chair.program import shipped_dir

ROOT = Path(__file__).resolve().parents[1]
PROGRAM_NAMES = sorted(path.stem for path in shipped_dir().glob("*.toml"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built by pip from a clean copy of the sources."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for package in ("chair", "sim", "firmware"):
        shutil.copytree(ROOT / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    # offline when this environment can build (the test extra brings `wheel`); else pip
    # fetches the build backend named in pyproject.toml, as `pip install .` does
    can_build = all(importlib.util.find_spec(name) for name in ("setuptools", "wheel"))
    offline = ["--no-build-isolation"] if can_build else []
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *offline,
                           "-w", str(out), str(src)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("*.whl")
    return built


def test_the_distribution_is_massage_chair_and_the_command_is_chair() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "massage-chair"  # "chair" on the index is another project
    assert project["scripts"] == {"chair": "chair.cli:main"}


def test_the_wheel_carries_the_programs_and_the_sim_handler(wheel: Path) -> None:
    assert wheel.name.startswith("massage_chair-")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"chair/programs/{name}.toml" for name in PROGRAM_NAMES} <= names
    assert PROGRAM_NAMES == ["feet", "gluteal", "legs", "lumbar", "piriformis", "sciatica"]
    assert {"sim/__init__.py", "sim/protocol_sim.py", "sim/device.py"} <= names
    # the firmware, the chair descriptions it reads at start, and what runs it in MicroPython
    assert {"firmware/__init__.py", "firmware/device.py", "firmware/codec.py",
            "firmware/chairs/reference.json", "firmware/chairs/compact.json",
            "firmware/boards/esp32.json", "sim/micropython.py", "sim/mp_runner.mjs",
            "sim/mp_relay.py"} <= names
    assert not any(name.startswith(("tests/", "benchmarks/", "programs/")) for name in names)


def test_a_fresh_environment_lists_and_runs_the_shipped_programs(wheel: Path,
                                                                 tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print("
                                   "sysconfig.get_paths()['purelib'])"], capture_output=True,
                                  text=True, check=True).stdout.strip())
    # this environment's dependencies, after the fresh one's own site-packages; its .pth
    # files (an editable `chair`) are not run from a path added this way
    (purelib / "borrowed-deps.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python),
                                "install", "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=120, check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "CHAIR_PROGRAMS", "VIRTUAL_ENV")}

    def chair(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(env / "bin" / "chair"), *args], cwd=elsewhere, env=clean,
                              capture_output=True, text=True, timeout=120, check=False)

    where = subprocess.run([str(python), "-c", "import chair, sim; print(chair.__file__); "
                            "print(sim.__file__)"], cwd=elsewhere, env=clean,
                           capture_output=True, text=True, check=True).stdout.split()
    assert all(path.startswith(str(purelib)) for path in where), where  # from the wheel
    listed = chair("list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == PROGRAM_NAMES
    # the MicroPython runner ships in the wheel and finds the npm package it is pointed at
    mp = subprocess.run([str(python), "-c", "from sim import micropython as m; d = m.run("
                         "'run', {'entry': 'sys'}); print(m.RUNNER); print(d.returncode)"],
                        cwd=elsewhere, env={**clean, "CHAIR_MICROPYTHON": str(
                            ROOT / "node_modules" / "@micropython" /
                            "micropython-webassembly-pyscript")},
                        capture_output=True, text=True, timeout=120, check=False)
    assert mp.returncode == 0, mp.stderr
    runner, code = mp.stdout.split()
    assert runner.startswith(str(purelib)) and code == "0", mp.stdout
    ran = chair("run", "lumbar", "--fast")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "completed" in ran.stdout
