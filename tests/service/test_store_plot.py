"""The plots of `chair serve` (chair.service.store): drawn once when many ask at once, in a
process of their own (matplotlib's work never holds the server's GIL), and a plot being
drawn holds up nothing but requests for that same plot."""

from __future__ import annotations

import subprocess
import threading

import pytest

from chair.service import store as store_module
from chair.service.store import Store


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    pytest.importorskip("matplotlib")
    from chair.program import load_program
    from chair.runner import RunOptions, run

    store = Store(tmp_path_factory.mktemp("plots"))
    session = store.new_id("lumbar")
    run(load_program("lumbar"), RunOptions(fast=True, trace=str(store.trace_file(session)),
                                           minutes=1))
    return store, session


def test_twelve_requests_at_once_draw_the_plot_once_in_another_process(session,
                                                                       monkeypatch) -> None:
    store, session_id = session
    store.trace_file(session_id).with_suffix(".png").unlink(missing_ok=True)
    drawn: list[list[str]] = []
    real = subprocess.run

    def counted(argv, *args, **kwargs):
        drawn.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(store_module.subprocess, "run", counted)
    pngs: list = []
    threads = [threading.Thread(target=lambda: pngs.append(store.plot_path(session_id)))
               for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(pngs) == 12 and pngs[0].read_bytes()[:4] == b"\x89PNG"
    assert len(drawn) == 1, drawn
    assert drawn[0][1:4] == ["-m", "chair.cli", "plot"], drawn[0]


def test_a_plot_being_drawn_holds_up_no_other_session(tmp_path, monkeypatch) -> None:
    store = Store(tmp_path)
    store.ensure()
    slow, quick = store.new_id("lumbar"), store.new_id("neck")
    for name in (slow, quick):
        store.trace_file(name).write_text('{"type": "header"}\n')
    release, entered = threading.Event(), threading.Event()

    def draw(trace, png):
        if trace.stem == slow:
            entered.set()
            release.wait(30)
        png.write_bytes(b"\x89PNG")

    monkeypatch.setattr(store_module, "draw_plot", draw)
    holder = threading.Thread(target=store.plot_path, args=(slow,))
    holder.start()
    try:
        assert entered.wait(10)
        done = threading.Event()
        threading.Thread(target=lambda: (store.plot_path(quick), store.new_id("lumbar"),
                                         done.set()), daemon=True).start()
        assert done.wait(10), "another session's plot and a new id wait for no plot"
    finally:
        release.set()
        holder.join(10)
