"""What a person reads on the page (and over the API) never tells them to press Ctrl-C or
to type a command-line option: the cautions' texts come from the same source as `chair
run`'s, in the page's words (chair.cautions.on_page)."""

from __future__ import annotations

import re

from chair.cautions import GENERAL, on_page
from tests.service.hosts import make_host

CLI_WORDS = re.compile(r"Ctrl-C|--[a-z]")


def _texts(listed: dict) -> list[str]:
    texts = [*listed["always"], *listed["guidance"], *listed["red_flags"]["urgent"],
             *listed["red_flags"]["doctor"]]
    for condition in listed["conditions"]:
        texts += [condition["text"], condition["changes"]]
    for program in listed["programs"]:
        texts += [program["purpose"], *program["cautions"]]
    return texts


def test_the_page_words_replace_the_command_lines() -> None:
    assert any("Ctrl-C" in text for text in GENERAL)  # the source says it for chair run
    said = on_page("Stop at once (Ctrl-C parks the chair) if it hurts; run with "
                   "--caution neuropathy; try a first session at --intensity 2.")
    assert said == ("Stop at once (Stop parks the chair; EMERGENCY STOP stops everything "
                    "at once) if it hurts; tick the condition neuropathy; try a first "
                    "session at intensity 2.")


def test_programs_list_speaks_the_pages_words(tmp_path) -> None:
    host = make_host(tmp_path / "sessions")
    try:
        texts = _texts(host.programs())
    finally:
        host.close()
    assert texts and not [t for t in texts if CLI_WORDS.search(t)], \
        [t for t in texts if CLI_WORDS.search(t)]
