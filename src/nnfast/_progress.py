"""The progress bars: one tqdm bar per epoch, fed between engine chunks.

tqdm is a dependency rather than an extra: progress is what a user sees by default at a
terminal, tqdm is small, pure Python and without dependencies of its own, and a bar
drawn by hand would be one more thing to keep right (terminal width, rates, notebooks).
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator, Optional, Union

ProgressCallback = Callable[[int, int, int], None]


def want_bar(progress: Union[bool, None]) -> bool:
    """None means a bar when stderr is a terminal; True or False decide."""
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


@contextlib.contextmanager
def reporting(progress: Union[None, bool, Callable[[int, int, int], Any]],
              epochs: int) -> Iterator[Optional[Callable[[int, int, int], Any]]]:
    """The progress callback of a training run, validated: the caller's own, or an
    EpochBar when `progress` asks for one (closed when the run ends), or None."""
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError("progress must be None, True, False or a callable "
                        "(epoch, rows_done, n)")
    if callable(progress):
        yield progress
        return
    bar = EpochBar(epochs) if want_bar(progress) else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


class EpochBar:
    """A callable progress(epoch, rows_done, n) drawing one bar per epoch on stderr,
    in samples and samples/s; the bar of an epoch goes away when the epoch is done, so
    that the lines printed between epochs stay readable."""

    def __init__(self, epochs: Optional[int] = None, unit: str = "sample"):
        self.epochs, self.unit = epochs, unit
        self._bar: Any = None
        self._epoch: Optional[int] = None
        self._done = 0

    def __call__(self, epoch: int, rows_done: int, n: int) -> None:
        if epoch != self._epoch:
            self.close()
            from tqdm.auto import tqdm

            of = f"/{self.epochs}" if self.epochs else ""
            self._bar = tqdm(total=n, desc=f"epoch {epoch + 1}{of}", unit=self.unit,
                             unit_scale=True, leave=False, file=sys.stderr,
                             dynamic_ncols=True)
            self._epoch, self._done = epoch, 0
        self._bar.update(rows_done - self._done)
        self._done = rows_done
        if rows_done >= n:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._epoch = None


class ByteBar:
    """A download's bar: bytes so far of total (0 when the server does not say)."""

    def __init__(self, label: str, total: int):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total or None, desc=f"downloading {label}", unit="B",
                         unit_scale=True, unit_divisor=1024, file=sys.stderr)

    def show(self, done: int) -> None:
        self._bar.update(done - self._bar.n)

    def finish(self) -> None:
        self._bar.close()
