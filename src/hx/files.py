"""Input files a user names (CSV exports, estate and metric YAML): read whole, as UTF-8 text.

What cannot be read, or is not text, is :class:`~hx.errors.BadInput` naming the file, so a command
exits 2 with one line instead of a traceback from the codec half-way through a CSV reader.
"""

from __future__ import annotations

import io
from pathlib import Path

from hx.errors import BadInput


def read_text(path: str | Path) -> str:
    """The file's text (line endings untouched, for :mod:`csv`).

    >>> read_text("/no/such/file.csv")
    Traceback (most recent call last):
    ...
    hx.errors.BadInput: cannot read /no/such/file.csv: No such file or directory
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise BadInput(f"cannot read {p}: {err.strerror}", field="path", file=str(p)) from err
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInput(
            f"{p}: not UTF-8 text (byte {err.start}: {err.reason}); export it as UTF-8 CSV or YAML",
            field="path",
            file=str(p),
        ) from err


def open_text(path: str | Path) -> io.StringIO:
    """:func:`read_text` as a handle for :func:`csv.reader` (which wants ``newline=""``)."""
    return io.StringIO(read_text(path), newline="")
