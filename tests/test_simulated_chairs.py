"""Every chair description the simulator offers (`chair sim --list-chairs`) can be driven:
`chair run lumbar --fast` and `chair conformance` pass on each (issue 12's first "done
when"), a chair without force sensing given the person's height."""

from __future__ import annotations

import json

import pytest

from chair.cli import main, simulated_chairs

CHAIRS = simulated_chairs()


def test_the_list_names_every_description(capsys) -> None:
    assert [c["name"] for c in CHAIRS] == ["compact", "reference"]
    assert main(["sim", "--list-chairs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == CHAIRS
    assert main(["sim", "--list-chairs"]) == 0
    out = capsys.readouterr().out
    assert "compact    A compact chair" in out and "zones lumbar, seat, calves;" in out


@pytest.mark.parametrize("chair", CHAIRS, ids=[c["name"] for c in CHAIRS])
def test_each_simulated_chair_runs_a_program_and_passes_conformance(chair: dict,
                                                                     capsys) -> None:
    port = f"sim://?chair={chair['name']}"
    height = [] if "force" in chair["sensors"] else ["--height", "175", "--no-profile"]
    assert main(["run", "lumbar", "--fast", "--port", port, *height]) == 0
    capsys.readouterr()
    assert main(["conformance", port + "&clock=virtual", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["failed"] == 0 and report["summary"]["passed"] == 12
