"""Fetch a file from a list of mirrors, check its SHA-256, and move it into place
atomically, so that a reader never sees a partial or unverified file."""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import sys
import zlib
from pathlib import Path
from typing import NamedTuple
from urllib.request import urlopen

from nnfast import _progress, files

TIMEOUT_S = 60
CHUNK_BYTES = 1 << 16


class Digest(NamedTuple):
    """The SHA-256 a download must have: of the file as served, or (``decompressed``) of
    the bytes inside the gzip, which stay the same when someone recompresses the file."""

    sha256: str
    decompressed: bool = False


class DownloadError(OSError):
    """No mirror gave a file with the expected checksum."""


def fetch(urls, dest, digest):
    """Download ``dest.name`` from the first of ``urls`` that serves the right bytes."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _fetch_one(url, dest, digest)
            return dest
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {exc}")
    raise DownloadError(f"could not download {dest.name}: " + "; ".join(failures))


def _fetch_one(url, dest, digest):
    # dest appears only once its bytes are all there and verified.
    with files.replacing(dest, "w+b") as out:
        with urlopen(url, timeout=TIMEOUT_S) as response:
            _copy(response, out, dest.name)
        out.flush()
        out.seek(0)
        _verify(out, digest)


def _copy(response, out, label):
    total = int(response.headers.get("Content-Length") or 0)
    progress = _progress.ByteBar(label, total) if sys.stderr.isatty() else None
    done = 0
    while chunk := response.read(CHUNK_BYTES):
        out.write(chunk)
        done += len(chunk)
        if progress:
            progress.show(done)
    if progress:
        progress.finish()


def _verify(file, digest):
    """A ValueError unless the bytes of the open binary file (or, for a digest of the
    decompressed content, what they decompress to) have the digest's SHA-256."""
    sha = hashlib.sha256()
    try:
        with (gzip.GzipFile(fileobj=file, mode="rb") if digest.decompressed
              else contextlib.nullcontext(file)) as f:
            while chunk := f.read(CHUNK_BYTES):
                sha.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"not a valid gzip file ({exc})") from None
    if sha.hexdigest() != digest.sha256:
        what = "decompressed content" if digest.decompressed else "file"
        raise ValueError(
            f"SHA-256 of the {what} is {sha.hexdigest()}, expected {digest.sha256}"
        )
