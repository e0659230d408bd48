"""The engines of `chair sweep` (chair/sweep/engines.py): the same rows, byte for byte, from
this process, the local pool, a Dask LocalCluster of two workers and a real `dask
scheduler` / `dask worker` pair on loopback; the errors of a scheduler that cannot be used;
Ctrl-C writing nothing and leaving no process behind."""

from __future__ import annotations

import builtins
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chair.cli import main
from chair.errors import Exit
from chair.sweep import engines, grid
from chair.sweep.worker import Job

pytest.importorskip("dask.distributed")
psutil = pytest.importorskip("psutil")  # installed with distributed

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["sweep", "lumbar", "--heights", "160,190", "--faults", "none,pinch@20"]


def wait_for(condition, timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"no {what} within {timeout:g} s")
        time.sleep(0.05)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A real `dask scheduler` and one `dask worker` of one thread, on loopback: the
    address a user would give --scheduler."""
    where = tmp_path_factory.mktemp("dask")
    info = where / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], cwd=where, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: info.exists() and info.stat().st_size > 0, what="scheduler file")
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
             "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard"], cwd=where, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_every_engine_gives_the_same_csv_and_a_progress_line(tmp_path, capsys,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    runs = {"here": ["--jobs", "1"], "pool": ["--jobs", "2"],
            "local": ["--jobs", "2", "--scheduler", "local"]}
    for name, argv in runs.items():
        assert main([*SMALL, *argv, "-o", str(tmp_path / f"{name}.csv")]) == Exit.OK, name
        err = capsys.readouterr().err
        assert "sweep: 4/4 sessions\n" in err, (name, err)
        assert "INFO" not in err and "distributed" not in err, err  # Dask's logs kept quiet
    here = (tmp_path / "here.csv").read_bytes()
    assert here.count(b"\n") == 5
    assert (tmp_path / "pool.csv").read_bytes() == here
    assert (tmp_path / "local.csv").read_bytes() == here


def test_a_running_scheduler_by_its_address_and_traces_come_home(tmp_path, scheduler) -> None:
    """Kept traces are written where the user asked, though the worker ran elsewhere: a
    failing session's beside the results, every one in --traces DIR."""
    out = tmp_path / "r.csv"
    code = main(["sweep", "lumbar", "--heights", "170", "--scheduler", scheduler, "-o", str(out),
                 "--sim-options", "defect=corrupt-limits"])
    assert code == Exit.FAULT
    kept = Path(str(out) + ".traces") / "lumbar-h170-k1-reference.jsonl"
    assert kept.read_text().startswith('{"type":"header"')
    assert str(kept) in out.read_text()
    same = tmp_path / "here.csv"
    assert main(["sweep", "lumbar", "--heights", "170", "--jobs", "1", "-o", str(same),
                 "--sim-options", "defect=corrupt-limits"]) == Exit.FAULT
    assert same.read_text().replace(str(same), str(out)) == out.read_text()
    traces = tmp_path / "t"
    assert main(["sweep", "lumbar", "--faults", "pinch@5", "--scheduler", scheduler,
                 "-o", str(tmp_path / "t.csv"), "--traces", str(traces)]) == Exit.OK
    assert [p.name for p in traces.iterdir()] == ["lumbar-h175-k1-reference-pinch@5.jsonl"]


def test_an_unreachable_scheduler_is_a_link_error_naming_it_within_seconds(capsys) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    assert main([*SMALL, "--scheduler", address, "-o", "never.csv"]) == Exit.LINK
    assert time.monotonic() - started < engines.CONNECT_S + 10
    err = capsys.readouterr().err
    assert address in err and "no Dask scheduler answered" in err
    assert not Path("never.csv").exists()


def test_an_address_dask_does_not_take_is_a_usage_error(capsys) -> None:
    assert main([*SMALL, "--scheduler", "bogus://x", "-o", "never.csv"]) == Exit.USAGE
    assert "--scheduler bogus://x: not a Dask scheduler address" in capsys.readouterr().err


def test_without_dask_the_error_says_how_to_install_it(monkeypatch, capsys) -> None:
    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    assert main([*SMALL, "--scheduler", "local", "-o", "never.csv"]) == Exit.USAGE
    assert "pip install 'massage-chair[cluster]'" in capsys.readouterr().err


def test_a_worker_of_another_chair_version_is_refused(monkeypatch, capsys, scheduler) -> None:
    monkeypatch.setattr(engines, "__version__", "0.0.0-other")
    assert main([*SMALL, "--scheduler", scheduler, "-o", "never.csv"]) == Exit.LINK
    err = capsys.readouterr().err
    assert "runs chair 0.1.0, this is chair 0.0.0-other" in err and "cluster]" in err


def test_a_scheduler_without_workers_is_a_link_error(monkeypatch, capsys) -> None:
    from dask.distributed import LocalCluster

    monkeypatch.setattr(engines, "CONNECT_S", 1.0)
    with LocalCluster(n_workers=0, host="127.0.0.1", scheduler_kwargs={"dashboard": False},
                      dashboard_address="127.0.0.1:0") as cluster:
        code = main([*SMALL, "--scheduler", cluster.scheduler_address, "-o", "never.csv"])
    assert code == Exit.LINK
    assert "has no worker" in capsys.readouterr().err


def test_longest_first_keeps_ties_in_order() -> None:
    sessions = grid.sessions(["lumbar", "sciatica"], [160, 190], [1.0], ["reference"],
                             ["", "pinch@20"], 1, 0)
    jobs = [Job(s, f"{s.name}.jsonl", False) for s in sessions]
    order = [jobs[i].session.name for i in engines.longest_first(jobs)]
    assert order == ["sciatica-h160-k1-reference", "sciatica-h190-k1-reference",
                     "lumbar-h160-k1-reference", "lumbar-h190-k1-reference",
                     "lumbar-h160-k1-reference-pinch@20", "lumbar-h190-k1-reference-pinch@20",
                     "sciatica-h160-k1-reference-pinch@20",
                     "sciatica-h190-k1-reference-pinch@20"]
    assert engines.expected_s(jobs[0]) == 220.0 and engines.expected_s(jobs[1]) == 30.0


@pytest.mark.parametrize("engine", [{"workers": 2}, {"workers": 2, "scheduler": "local"}])
def test_ctrl_c_cancels_what_is_left_and_says_how_much_was_done(tmp_path, engine) -> None:
    sessions = grid.sessions(["lumbar"], [150, 160, 170, 180, 190, 200], [1.0], ["reference"],
                             [""], 1, 0)
    jobs = [Job(s, str(tmp_path / f"{s.name}.jsonl"), False) for s in sessions]
    seen = []

    def interrupt(done: int, total: int) -> None:
        seen.append((done, total))
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(engines.Stopped) as stop:
        engines.run(jobs, progress=interrupt, **engine)
    assert (stop.value.done, stop.value.total) == (1, 6) and seen == [(1, 6)]
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("argv", [["--jobs", "1"], ["--jobs", "2"],
                                  ["--jobs", "2", "--scheduler", "local"]])
def test_ctrl_c_writes_nothing_and_leaves_no_process(tmp_path, argv) -> None:
    out, traces = tmp_path / "r.csv", tmp_path / "t"
    sweep = subprocess.Popen(
        [sys.executable, "-c", "import sys; from chair.cli import main; sys.exit(main())",
         "sweep", "sciatica", "--heights", "150:200:10",
         *argv, "-o", str(out), "--traces", str(traces)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: traces.exists() and any(traces.iterdir()), what="session started")
        children = psutil.Process(sweep.pid).children(recursive=True)
        os.killpg(sweep.pid, signal.SIGINT)  # as a terminal's Ctrl-C: its whole group
        _, err = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == Exit.STOPPED, err
    assert "sweep stopped by the user after" in err and "nothing written" in err
    assert "Traceback" not in err  # the workers did not take the Ctrl-C for themselves
    assert not out.exists()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, alive


def test_the_feeder_hands_each_pool_process_one_job_at_a_time(monkeypatch) -> None:
    """A pool process never holds a job that this process or another could start first:
    its next job is sent only when it finished the last."""
    import concurrent.futures
    import threading
    from queue import SimpleQueue

    monkeypatch.setattr(engines, "run_job", lambda job: time.sleep(0.005) or job)
    most, lock = [0], threading.Lock()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures: list = []
        submit = pool.submit

        def counted(fn, *args):
            with lock:
                most[0] = max(most[0], 1 + sum(not f.done() for f in futures))
                futures.append(submit(fn, *args))
                return futures[-1]

        monkeypatch.setattr(pool, "submit", counted)
        finished: SimpleQueue = SimpleQueue()
        engines._feed(pool, 2, list(range(10)), engines._Queue(list(range(10))), finished)
    ended = [finished.get() for _ in range(11)]
    assert ended[-1] == (None, None)
    assert sorted(index for index, _ in ended[:-1]) == list(range(10))
    assert most[0] <= 2
