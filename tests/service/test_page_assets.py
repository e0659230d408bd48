"""The page's files, read as text: everything it loads ships in the package (no CDN, no
web font, nothing fetched from the internet), and no text from the server can become
markup or code."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "chair" / "service" / "static"
FILES = sorted(p for p in STATIC.rglob("*") if p.is_file())
SCRIPTS = [p for p in FILES if p.suffix == ".js"]


def test_the_page_has_its_files() -> None:
    names = {p.name for p in FILES}
    assert {"index.html", "app.js", "style.css"} <= names


def test_every_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["chair.service"]
    for path in FILES:
        name = path.relative_to(STATIC.parent).as_posix()
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), (
            f"{name} is not in pyproject's package data for chair.service: a wheel would "
            "lack it")


def test_what_the_page_loads_is_in_the_package() -> None:
    html = (STATIC / "index.html").read_text()
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "static/app.js" in loaded and "static/style.css" in loaded
    for ref in loaded:
        if ref.startswith("data:"):
            continue
        assert ref.startswith("static/"), f"index.html loads {ref} from outside the package"
        assert (STATIC / ref.removeprefix("static/")).is_file(), ref
    for script in SCRIPTS:
        for module in re.findall(r'^import .* from "([^"]+)";$', script.read_text(), re.M):
            assert module.startswith("./"), f"{script.name} imports {module}"
            assert (STATIC / module[2:]).is_file(), f"{script.name} imports {module}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_nothing_comes_from_the_internet(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(\s*['\"]?http",
                         text, re.I), f"{path.name} refers to something on the internet"
    assert "@font-face" not in text


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_server_text_never_becomes_markup_or_code(path: Path) -> None:
    text = path.read_text()
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                  "new Function", "setTimeout(\"", "setTimeout('"):
        assert risky not in text, f"{path.name} uses {risky}"
    assert len(text.splitlines()) <= 400, f"{path.name}: split it by job"


def test_no_inline_event_handler_or_inline_script() -> None:
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"\son[a-z]+\s*=", html, re.I), "an inline event handler"
    for script in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in script[0] and not script[1].strip(), "an inline script"
