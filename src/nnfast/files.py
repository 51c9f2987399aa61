"""Writing files so that a crash, a full disk or Ctrl-C never leaves half of one."""
from __future__ import annotations

import contextlib
import os
import secrets
from typing import Any, Union

PathLike = Union[str, "os.PathLike[str]"]


def checked_path(filename: Any, name: str = "filename") -> str:
    """filename as a str path, or a TypeError naming the argument: open() would take
    an int as a file descriptor (and close it afterwards)."""
    if not isinstance(filename, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a path (str, bytes or os.PathLike), "
                        f"not {type(filename).__name__}")
    return os.fsdecode(os.fspath(filename))


def _create_beside(path: str) -> tuple:
    """A new, empty temporary file in path's directory, opened for writing: created
    with mode 0o666 less the umask, as open() would create path itself."""
    directory = os.path.dirname(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        temporary = os.path.join(directory, f".nnfast-{secrets.token_hex(8)}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue


def write_atomically(filename: PathLike, content: Union[str, bytes]) -> None:
    """Replace filename by content whole, or leave it as it was: the content goes to a
    temporary file in the same directory, is flushed to the disk, and is then renamed
    over filename (a rename within one file system is atomic). A symbolic link is
    followed: its target is replaced, the link stays."""
    path = os.path.realpath(checked_path(filename))
    mode = "wb" if isinstance(content, bytes) else "w"
    fd, temporary = _create_beside(path)
    try:
        # The new file keeps the old one's mode.
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, os.stat(path).st_mode & 0o7777)
        with os.fdopen(fd, mode) as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        # Whatever stopped the write (an OSError, KeyboardInterrupt), the old file stays.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
