"""Files a user names: inputs (CSV exports, estate and metric YAML) read whole, as UTF-8 text, and
outputs (``--out``, ``--png``) written under :func:`writing`.

An input that cannot be read, or is not text, and an output path that cannot be written are
:class:`~hx.errors.BadInput` naming the file (and the option), so a command exits 2 with one line
instead of a traceback from the codec half-way through a CSV reader or from ``open``.
"""

from __future__ import annotations

import errno
import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hx.errors import BadInput, HxError

#: what a wrong output path gives (the user can fix it); anything else (a full disk) is a failure
_PATH_ERRORS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS}


def read_text(path: str | Path) -> str:
    """The file's text (line endings untouched, for :mod:`csv`); a ``.gz`` file is decompressed, and a UTF-8 byte
    order mark (Excel's "CSV UTF-8" writes one) is dropped, so the first column keeps its name.

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
    if p.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise BadInput(f"{p}: not a readable gzip file ({err})", field="path", file=str(p)) from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadInput(f"{p}: {not_text(err)}", field="path", file=str(p)) from err


def not_text(err: UnicodeDecodeError) -> str:
    """What to say of a file that is not UTF-8 text (one wording wherever a reader finds it)."""
    return f"not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8"


def is_json(text: str) -> bool:
    """The text is a JSON document (an object or an array): given where a CSV belongs, it is named as JSON.

    >>> is_json('{"a": [1, 2]}'), is_json("time,value")
    (True, False)
    """
    import json

    if not text.lstrip().startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def open_text(path: str | Path) -> io.StringIO:
    """:func:`read_text` as a handle for :func:`csv.reader` (which wants ``newline=""``)."""
    return io.StringIO(read_text(path), newline="")


@contextmanager
def writing(option: str) -> Iterator[None]:
    """Write what the body writes to the path given by ``option``; an :class:`OSError` names both."""
    try:
        yield
    except OSError as err:
        message = f"{option} {err.filename}: cannot write: {err.strerror}"
        if err.errno in _PATH_ERRORS:
            raise BadInput(message, field=option) from err
        raise HxError(message) from err
