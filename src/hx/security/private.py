"""hx's own files are private: created 0600 (directories 0700), written atomically.

Keys, tokens, the database, the simulator checkpoint, the exported audit head and exports hx writes go
through these helpers, so no file of hx's is ever readable by other users, even for a moment (the mode is
set at creation, not after), and a reader never sees a half-written file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TextIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) mode 0700; an existing directory of hx's is narrowed to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o077:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 when it does not exist; narrow an existing one to 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        os.chmod(path, FILE_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``: a unique temporary file (0600) in the same directory,
    fsynced, then ``os.replace`` (and the directory fsynced), so a crash leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def open_private(path: Path, newline: str | None = None) -> TextIO:
    """A text file opened for writing (truncated), created 0600 -- for exports a user names (``--out``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "w", encoding="utf-8", newline=newline)


def write_export(path: Path, text: str) -> Path:
    """Write an export's text to ``path`` (0600)."""
    with open_private(path) as fh:
        fh.write(text)
    return path


def export_dir(path: Path) -> Path:
    """A directory for exports: created 0700 when hx makes it (an existing one a user named is left as it is)."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=DIR_MODE, exist_ok=True)
    return path
