"""Writing files so that a crash, a full disk or Ctrl-C never leaves half of one."""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from typing import IO, Any, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


def checked_path(filename: Any, name: str = "filename") -> str:
    """filename as a str path, or an error naming the argument: open() would take an
    int as a file descriptor (and close it afterwards)."""
    if not isinstance(filename, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a path (str, bytes or os.PathLike), "
                        f"not {type(filename).__name__}")
    path = os.fsdecode(os.fspath(filename))
    if "\0" in path:
        raise ValueError(f"{name} must not contain a NUL character")
    return path


def _create_beside(path: str, mode: str) -> tuple:
    """A new, empty temporary file in path's directory, opened in mode ("x": created
    here, never an existing one; with mode 0o666 less the umask, as open() would
    create path itself), and its name."""
    directory = os.path.dirname(path)
    while True:
        temporary = os.path.join(directory, f".nnfast-{secrets.token_hex(8)}.tmp")
        try:
            return open(temporary, mode.replace("w", "x")), temporary
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "no such directory", directory) from None
        except BaseException:  # Ctrl-C just after it was made (by us: "x"), or a failure
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


@contextlib.contextmanager
def replacing(filename: Any, mode: str = "wb") -> Iterator[IO[Any]]:
    """A file to write in place of filename: what the block writes replaces filename
    whole when the block ends, and an exception in it (an OSError, KeyboardInterrupt)
    leaves filename as it was. The content goes to a temporary file in the same
    directory, is flushed to the disk, and is then renamed over filename (a rename
    within one file system is atomic). The file keeps the old one's mode; a symbolic
    link is followed, its target replaced. A device or a pipe (/dev/null, /dev/stdout,
    a FIFO) is written in place, as open() writes it: there is no file to replace, and
    renaming over it would put a regular file where the device was."""
    name = checked_path(filename)
    if name.endswith(os.sep):  # realpath would drop the slash and write a file "name"
        raise IsADirectoryError(errno.EISDIR, "a file name may not end in a slash", name)
    try:
        kind = os.stat(name).st_mode
    except (FileNotFoundError, NotADirectoryError):
        kind = stat.S_IFREG
    if not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
        with open(name, mode) as f:
            yield f
        return
    path = os.path.realpath(name)
    temporary = None
    try:
        f, temporary = _create_beside(path, mode)
        with f:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(f.fileno(), os.stat(path).st_mode & 0o7777)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        raise


def write_atomically(filename: Any, content: Union[str, bytes]) -> None:
    """Replace filename by content whole, or leave it as it was (replacing)."""
    with replacing(filename, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)
