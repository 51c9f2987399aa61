"""Writing files so that a crash, a full disk or Ctrl-C never leaves half of one."""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]


def write_atomically(filename: PathLike, content: Union[str, bytes]) -> None:
    """Replace filename by content whole, or leave it as it was: the content goes to a
    temporary file in the same directory, is flushed to the disk, and is then renamed
    over filename (a rename within one file system is atomic)."""
    path = os.fspath(filename)
    directory = os.path.dirname(os.path.abspath(path))
    mode = "wb" if isinstance(content, bytes) else "w"
    fd, temporary = tempfile.mkstemp(prefix=".nnfast-", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file private; the new file keeps the old one's mode.
        try:
            os.fchmod(fd, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            os.fchmod(fd, 0o644)
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

