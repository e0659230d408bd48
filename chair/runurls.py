"""The port URL a run opens: the `sim://` options (--fast, --seed, --fault) added to its
query and the `faulty://` wrapper (--link-fault) around it, each checked first.

The names stay importable from `chair.runner`.
"""

from __future__ import annotations

import urllib.parse

from chair.errors import UsageError
from chair.faults import parse_fault, parse_link_fault
from chair.ports import SIM_SCHEME

FAULTY_SCHEME = "faulty://"


def check_faults(faults: tuple[str, ...]) -> None:
    """Every `--fault` spec names a known fault and a time; UsageError before anything opens."""
    for spec in faults:
        try:
            parse_fault(spec)
        except ValueError as exc:
            raise UsageError(f"--fault {spec}: {exc}") from None


def link_fault_url(url: str, specs: tuple[str, ...]) -> str:
    """`url` wrapped in the `faulty://` handler carrying the `--link-fault` specs."""
    if not specs:
        return url
    if url.startswith(FAULTY_SCHEME):
        raise UsageError("--link-fault wraps the port in faulty://, and --port is already a "
                         "faulty:// URL: put the faults in one of them")
    query = []
    for spec in specs:
        try:
            query.append(parse_link_fault(spec))
        except ValueError as exc:
            raise UsageError(f"--link-fault {spec}: {exc}") from None
    names = [name for name, _ in query]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UsageError(f"--link-fault: {twice[0]} given twice")
    query.append(("port", url))
    return f"{FAULTY_SCHEME}?{urllib.parse.urlencode(query, safe='')}"


def sim_url(url: str, *, fast: bool, seed: int | None, faults: tuple[str, ...],
            speed: float = 1.0) -> str:
    """`url` with the run's options added to its query (only for `sim://`, also inside a
    `faulty://` URL). `speed` (`chair serve --speed`): the simulated chair N times faster
    than real time (`sim://?speed=N`); 1 is real time."""
    check_faults(faults)
    if url.startswith(FAULTY_SCHEME) and "?" in url:
        query = urllib.parse.parse_qsl(url.partition("?")[2], keep_blank_values=True)
        inner = [value for name, value in query if name == "port"]
        if len(inner) == 1:
            wrapped = sim_url(inner[0], fast=fast, seed=seed, faults=faults, speed=speed)
            query = [(n, wrapped if n == "port" else v) for n, v in query]
            return f"{FAULTY_SCHEME}?{urllib.parse.urlencode(query, safe='')}"
    if not url.startswith(SIM_SCHEME):
        if fast:
            raise UsageError(f"--fast runs on the virtual clock of a simulated chair; {url} is "
                             "a real port: drop --fast or use sim://")
        if faults:
            raise UsageError("--fault injects faults into the simulated chair only (sim://)")
        if speed != 1.0:
            raise UsageError(f"--speed runs a simulated chair faster than real time; {url} "
                             "is a real port: drop --speed or use sim://")
        return url
    base, _, old = url.partition("?")
    query = urllib.parse.parse_qsl(old)
    if not fast and ("clock", "virtual") in query:
        raise UsageError(f"{url}: clock=virtual is the simulated clock that --fast drives; "
                         "in real time nothing would move it: add --fast, or drop "
                         "clock=virtual")
    if fast and ("clock", "virtual") not in query:
        query.append(("clock", "virtual"))
    if speed != 1.0:
        if fast:
            raise UsageError("--speed scales real time and --fast runs on the virtual clock: "
                             "choose one")
        if any(name == "speed" for name, _ in query):
            raise UsageError(f"{url}: speed is given by --speed; drop it from the URL")
        query.append(("speed", f"{speed:g}"))
    if seed is not None:
        query.append(("seed", str(seed)))
    query.extend(("fault", spec) for spec in faults)
    return f"{base}?{urllib.parse.urlencode(query, safe='@')}" if query else base
