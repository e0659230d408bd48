"""A session's objects are let go of when it ends, not at the cyclic collector's leisure.

The simulated firmware is in a reference cycle with its parts (each part keeps its
firmware), which holds the whole simulated chair (hardware layer, plant arrays, buffers);
the controller is in another with its state machine (transitions binds the model's
triggers to the machine). Left to
the collector, a process running session after session (`chair sweep`'s workers, the
benchmarks) kept every finished chair until a full collection, which allocation-light
sessions rarely trigger: +0.38 MB per sciatica session, +1.6 MB per simulated hour.
"""

from __future__ import annotations

import gc

from chair.program import load_program
from chair.runner import RunOptions, run
from sim.physics import Plant


def _plants() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Plant)


def test_a_finished_session_leaves_no_simulated_chair_behind() -> None:
    program = load_program("lumbar")
    gc.collect()  # what earlier tests left
    before = _plants()
    gc.disable()  # no automatic collection may do the runner's work for it
    try:
        for _ in range(2):
            outcome = run(program, RunOptions(fast=True, minutes=0.2))
            assert outcome.reason in {"completed", "timer"}, outcome
        assert _plants() == before
    finally:
        gc.enable()
