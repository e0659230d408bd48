"""Every command the README shows runs, as a new user would type it, and does what it says.

Commands come from the README's ```sh blocks. The quick start's setup steps (venv, pip,
pytest itself) are left out; `chair ...` commands run in a fresh, empty working directory
(the programs ship inside the package), through `chair.cli.main`. A real-time `chair run`
on the simulated chair gets `--fast` (the same run, fast-forwarded); one run as a process
gets `--yes` (it has no terminal to acknowledge the cautions on). A comment saying
"exits N:" gives the exit code expected; otherwise 0. The blocks that serve the simulated chair
(`chair sim --pty` with miniterm, `chair sim --tcp` with `chair run --port socket://...`)
run as real processes on a real pty and a real socket.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chair.cli import main
from chair.conformance import CHECKS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SETUP = ("python3", ".", "pip", "npm", "pytest", "apt-get")  # setup words, not commands
EXPECT = re.compile(r"\bexits (\d+):")


@dataclass(frozen=True)
class Command:
    line: str  # the command as the README shows it (without its comment)
    argv: tuple[str, ...]
    expect: int
    block: int

    @property
    def id(self) -> str:
        return " ".join(self.argv)


def sh_blocks(text: str) -> list[list[str]]:
    """The lines of every ```sh block."""
    return [block.strip("\n").splitlines()
            for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)]


def parse(text: str) -> list[Command]:
    commands = []
    for number, block in enumerate(sh_blocks(text)):
        for line in block:
            comment = line.partition(" #")[2]
            words = shlex.split(line, comments=True)
            parts: list[list[str]] = [[]]
            for word in words:
                if word == "&&":
                    parts.append([])
                else:
                    parts[-1].append(word)
            for part in parts:
                if not part or part[0] in SETUP:
                    continue
                found = EXPECT.search(comment)
                commands.append(Command(shlex.join(part), tuple(part),
                                        int(found.group(1)) if found else 0, number))
    return commands


COMMANDS = parse(README.read_text(encoding="utf-8"))
SERVED_BLOCKS = {c.block for c in COMMANDS if c.argv[:2] in (("chair", "sim"),
                                                              ("chair", "serve"))}
PLAIN = [c for c in COMMANDS if c.block not in SERVED_BLOCKS]


def test_the_readme_shows_the_tour() -> None:
    """The README's commands are all `chair` commands, and the tour covers what it should."""
    assert all(c.argv[0] == "chair" for c in PLAIN), [c.line for c in PLAIN]
    shown = {c.argv[1] if c.argv[1] != "-v" else c.argv[2] for c in PLAIN}
    assert {"run", "plot", "list", "show", "validate", "limits", "diagram", "ports",
            "conformance", "faults", "reset"} <= shown
    quick = [c.line for c in COMMANDS if c.block == 0]
    assert quick == ["chair run sciatica --fast"], "the quick start's run command changed"
    assert any(c.argv[:3] == ("chair", "sim", "--pty") for c in COMMANDS)
    assert any(c.argv[:2] == ("python", "-m") and "serial.tools.miniterm" in c.argv
               for c in COMMANDS)


# ----------------------------------------------------------------- the plain commands


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A fresh, empty working directory: the programs come with the package."""
    return tmp_path_factory.mktemp("readme")


_DONE: dict[tuple[str, ...], tuple[int, str]] = {}  # arguments: exit code and output
_EARLIER_RAN: list[int] = []  # the README commands already run for their files, in order


def _as_run(argv: tuple[str, ...]) -> list[str]:
    """The arguments for `chair.cli.main`: real-time simulated runs fast-forwarded, globs
    expanded as a shell would."""
    args = list(argv[1:])
    command = args[1] if args[:1] == ["-v"] else args[0]
    if command == "run" and "--fast" not in args and "--port" not in args:
        args.append("--fast")
    if command == "conformance" and "sim://" in args:  # the same checks, on simulated time
        args[args.index("sim://")] = "sim://?clock=virtual"
    expanded: list[str] = []
    for arg in args:
        expanded.extend(sorted(glob.glob(arg)) or [arg] if "*" in arg else [arg])
    return expanded


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _run(command: Command, workdir: Path, capsys) -> tuple[int, str]:
    """Run `command` once (and every README command before it, once, for its files)."""
    index = PLAIN.index(command)
    for at in range(len(_EARLIER_RAN), index):  # each earlier command once, in order (a
        _EARLIER_RAN.append(at)                  # recursion here ran 2**n cached calls)
        with contextlib.suppress(pytest.skip.Exception):  # its own test reports the skip
            _run(PLAIN[at], workdir, capsys)
    with _cwd(workdir):
        args = _as_run(command.argv)
    if args[0] == "conformance":
        pytest.importorskip("chair.conformance", reason="chair conformance is not built yet")
    if args[0] == "plot":
        pytest.importorskip("matplotlib")
    key = tuple(args)  # the same run shown twice (real time and --fast) runs once
    if key not in _DONE:
        capsys.readouterr()
        with _cwd(workdir):
            code = main(args)
        _DONE[key] = (code, capsys.readouterr().out)
    return _DONE[key]


@pytest.mark.parametrize("command", PLAIN, ids=[c.id for c in PLAIN])
def test_readme_command(command: Command, workdir: Path, capsys) -> None:
    code, out = _run(command, workdir, capsys)
    assert code == command.expect, f"{command.line} exited {code}\n{out[-2000:]}"
    args = command.argv
    for flag in ("-o", "--output"):
        if flag in args:
            image = workdir / args[args.index(flag) + 1]
            assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{image} is not a PNG"
    if "--trace" in args:
        trace = (workdir / args[args.index("--trace") + 1]).read_text(encoding="utf-8")
        assert trace.splitlines()[-1].startswith('{"type":"end"')
    if args[1:2] == ("run",) and "--json" not in args:
        assert "end       " in out, "a run prints its summary"


# ----------------------------------------------------------------- the served chair


def _served_block(first: tuple[str, ...]) -> list[Command]:
    block = next(c.block for c in COMMANDS if c.argv[:len(first)] == first)
    return [c for c in COMMANDS if c.block == block]


def _python(argv: tuple[str, ...]) -> list[str]:
    """A README command as this interpreter runs it (`chair` need not be on PATH)."""
    if argv[0] == "chair":
        return [sys.executable, "-m", "chair.cli", *argv[1:]]
    assert argv[:2] == ("python", "-m"), argv
    return [sys.executable, *argv[1:]]


def _read_until(read, pattern: bytes, timeout: float = 5.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += read()
        if re.search(pattern, seen):
            return seen
    raise AssertionError(f"no {pattern!r} within {timeout} s; got {seen[-500:]!r}")


def _fd_reader(fd: int):
    def read() -> bytes:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            return b""
        try:
            return os.read(fd, 4096)
        except OSError:
            return b""
    return read


@contextlib.contextmanager
def _served(argv: list[str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """A `chair sim` process and the first line it printed; stopped with Ctrl-C after."""
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = _read_until(_fd_reader(process.stdout.fileno()), rb"\n").decode()
        yield process, first
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, process.stderr.read().decode() if process.stderr else code


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_readme_sim_on_a_pty_with_miniterm() -> None:
    """`chair sim --pty`, then miniterm on the path it prints, typed into as the README says."""
    sim, miniterm = _served_block(("chair", "sim", "--pty"))
    with _served(_python(sim.argv)) as (_, first):
        path = re.search(r"/dev/\S+", first)
        assert path, first
        argv = [path.group(0) if a == "/dev/pts/N" else a for a in miniterm.argv]
        assert path.group(0) in argv, "the README's miniterm line names /dev/pts/N"
        master, slave = os.openpty()
        term = subprocess.Popen(_python(tuple(argv)), stdin=slave, stdout=slave, stderr=slave,
                                start_new_session=True)
        os.close(slave)
        read = _fd_reader(master)
        try:
            _read_until(read, rb"Quit: Ctrl\+\]")
            os.write(master, b"?")
            _read_until(read, rb"<Idle [^>]*>")
            os.write(master, b"!")
            _read_until(read, rb"!F01 estop")
            os.write(master, b"?")
            _read_until(read, rb"<Estop [^>]*flt=F01>")  # latched
            os.write(master, b"INFO\r")
            _read_until(read, rb"#CHAIR proto=2 ")
            os.write(master, b"LIMITS\r")
            _read_until(read, rb"(?s)\$deadman_ms=500.*ok - crc=[0-9A-F]{4} n=\d+")
            os.write(master, b"\x1d")  # Ctrl-]
            assert term.wait(timeout=5) == 0
        finally:
            if term.poll() is None:
                term.kill()
                term.wait()
            os.close(master)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_readme_micropython_sim_passes_conformance() -> None:
    """`chair sim --pty --micropython`, then `chair conformance` on the path it prints: the
    firmware executed by real MicroPython passes every check, in real time."""
    sim, conformance = _served_block(("chair", "sim", "--pty", "--micropython"))
    with _served(_python(sim.argv)) as (_, first):
        path = re.search(r"/dev/\S+", first)
        assert path, first
        argv = [path.group(0) if a == "/dev/pts/N" else a for a in conformance.argv]
        assert path.group(0) in argv, "the README's conformance line names /dev/pts/N"
        started = time.monotonic()
        # the rule checks in real time; the drive stage, a 50-second session, runs on the
        # virtual clock under MicroPython in tests/sim/test_remote.py
        rules = [a for c in CHECKS if c.name != "drive" for a in ("--only", c.name)]
        done = subprocess.run([*_python(tuple(argv)), "--json", *rules], capture_output=True,
                              text=True, timeout=120, check=False)
        report = json.loads(done.stdout)
        assert done.returncode == 0, [r["detail"] for r in report["checks"]
                                      if r["result"] != "PASS"]
        assert report["summary"]["passed"] == len(CHECKS) - 1
        assert time.monotonic() - started > 2.0  # real time: the dead-man alone is 0.5 s


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_readme_sim_on_tcp_driven_by_chair_run() -> None:
    """`chair sim --tcp`, then `chair run --port socket://...`; Ctrl-C parks and exits 130."""
    sim, run, *after = _served_block(("chair", "sim", "--tcp"))
    port = str(_free_port())
    with _served(_python(tuple(a.replace("5555", port) for a in sim.argv))) as (_, first):
        assert f"socket://127.0.0.1:{port}" in first
        # a real-time run asks to acknowledge the cautions on a terminal; this process is a
        # script with no terminal, so it says --yes (as the README says a script must)
        argv = [*_python(tuple(a.replace("5555", port) for a in run.argv)), "--yes"]
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        try:
            assert process.stdout is not None
            out = _read_until(_fd_reader(process.stdout.fileno()), rb"idle -> scanning",
                              timeout=15)
            process.send_signal(signal.SIGINT)
            rest, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        text = (out + rest).decode()
        assert process.returncode == 130, text + err.decode()
        assert "stopped by the user" in text
        assert "-> parking (stopped by the user)" in text and "parking -> idle" in text
        for command in after:  # `chair reset`, after an emergency stop typed at the chair
            # a typed `!` stops only outside a live host session: 500 ms after the host's
            # last line with a CRC (protocol 2, docs/protocol.md §10.1), as a person would be
            time.sleep(0.6)
            with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as conn:
                conn.sendall(b"!")
                _read_until(lambda c=conn: c.recv(4096), rb"!F01")
            time.sleep(0.2)  # the server sees that client go before the next one comes
            done = subprocess.run(_python(tuple(a.replace("5555", port) for a in command.argv)),
                                  cwd=ROOT, capture_output=True, text=True, timeout=30)
            assert done.returncode == command.expect, done.stdout + done.stderr
            assert "latched: F01 estop" in done.stdout and "accepted" in done.stdout


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run is the README's test command, verbatim (a fresh machine installs what the
    tests need: the test extra and, with `npm ci`, the MicroPython of package.json)."""
    blocks = sh_blocks(README.read_text(encoding="utf-8"))
    command = blocks[1][0]
    assert "npm ci" in command and command.endswith("&& pytest")
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_ci_installs_the_system_packages_the_readme_names() -> None:
    """The browser and broker tests need Debian's packages: the README names them in its
    `apt-get install` line, and .ci/run installs exactly those on a fresh machine."""
    lines = [line for block in sh_blocks(README.read_text(encoding="utf-8")) for line in block
             if line.startswith("apt-get install")]
    assert len(lines) == 1, lines
    named = [word for word in lines[0].split()[2:] if not word.startswith("-")]
    assert set(named) == {"chromium", "mosquitto"}
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = [line for line in ci.splitlines() if "apt-get install" in line]
    assert len(install) == 1 and all(f" {name}" in install[0] for name in named), install


def test_readme_serve_prints_the_address_to_open_and_parks_on_ctrl_c() -> None:
    """`chair serve` (on any free loopback port here): the address it prints answers, and
    Ctrl-C parks the chair and exits 130."""
    pytest.importorskip("chair.service.host", reason="the chair thread is not built yet")
    (serve,) = _served_block(("chair", "serve"))
    argv = [*_python(serve.argv), "--http", "127.0.0.1:0", "--speed", "20"]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        out = _read_until(_fd_reader(process.stdout.fileno()), rb"open (http://\S+)\n",
                          timeout=30).decode()
        address = re.search(r"open (http://\S+)", out).group(1)
        with urllib.request.urlopen(address + "api/status", timeout=10) as response:
            assert json.load(response)["state"] == "idle"
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, out + rest.decode() + err.decode()
