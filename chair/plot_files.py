"""Where `chair plot` writes: the picture's default name, and files it must not draw over.

Without `-o` the picture is named after the trace (`session.jsonl` gives `session.png`,
beside it). A PNG that `chair plot` drew carries the text chunk ``Software=chair plot
VERSION``; without `-o`, an existing file without it is never overwritten, and with or
without `-o` the trace itself never is.
"""

from __future__ import annotations

import os
from pathlib import Path

from chair.errors import UsageError
from chair.trace import special_kind

#: The PNG text chunk `chair plot` writes into its pictures, to know them again.
SOFTWARE = "chair plot"


def default_output(trace_path: str) -> str:
    """The picture's name when `-o` is not given: the trace's, beside it, ending in .png."""
    path = Path(trace_path)
    return str(path.with_suffix(".png") if path.suffix else path.with_name(path.name + ".png"))


def drawn_by_us(path: str) -> bool:
    """True when `path` is a PNG whose Software text chunk says `chair plot` drew it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 16)
    except OSError:
        return False
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    at = 8
    while at + 8 <= len(data):
        length, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        if kind == b"IDAT":
            break
        if kind == b"tEXt":
            key, _, value = data[at + 8:at + 8 + length].partition(b"\0")
            if key == b"Software" and value.startswith(SOFTWARE.encode()):
                return True
        at += 12 + length
    return False


def check_output(trace_path: str, out_path: str, *, chosen: bool) -> None:
    """Refuse (UsageError) an empty path, a FIFO or a device (`chair.trace.special_kind`),
    the trace itself, and, when the user did not name the output (`chosen` False), an
    existing file `chair plot` did not draw."""
    if not out_path:
        raise UsageError("-o '': an empty path is not a file; name the picture with -o "
                         "FILE.png or leave -o out")
    try:
        kind = special_kind(os.stat(out_path).st_mode)
    except OSError:
        kind = None
    if kind:
        raise UsageError(f"{out_path} is {kind}: refusing to write a picture to it; name "
                         "the picture with -o FILE.png")
    out = Path(out_path)
    if out.exists() and Path(trace_path).exists() and out.samefile(trace_path):
        raise UsageError(f"{out_path} is the trace itself: name the picture with -o "
                         "FILE.png")
    if not chosen and out.exists() and not drawn_by_us(out_path):
        raise UsageError(f"{out_path} exists and was not drawn by chair plot: not "
                         "overwriting it; name the picture with -o FILE.png")


def save_figure(figure, out_path: str) -> None:
    """Write a matplotlib `figure` to `out_path` (.png, .svg or .pdf); a PNG is signed
    with SOFTWARE and the version (how `drawn_by_us` knows it later). UsageError naming
    the path when it cannot be written."""
    from chair import __version__

    metadata = {"Software": f"{SOFTWARE} {__version__}"} \
        if out_path.lower().endswith(".png") else None
    try:
        figure.savefig(out_path, dpi=110, metadata=metadata)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write {out_path}: {exc}. Choose a writable path ending in "
                         ".png, .svg or .pdf") from exc
