"""Unpickling NumPy arrays from files nobody vouches for, building nothing else.

A pickle is a program: it may name any importable callable and call it, and even NumPy's
own reconstructors allocate whatever a file asks for before anything is checked
(``numpy.ndarray`` with zero strides turns 175 bytes into 700 MiB; ``_reconstruct``
makes an object array of any length). Here each global that NumPy's pickles use, at
every protocol, stands for a function that checks its arguments first; an array is made
only from data bytes that are in the file and match its shape and dtype exactly. What a
load allocates is therefore bounded by the length of the pickle it reads.

It runs on pickle's pure-Python unpickler, whose memo is a dict: the C unpickler grows
its memo table to the largest index a file names, so a 12-byte pickle costs 1.5 GB.
And it reads through a file that refuses a count larger than the bytes left: pickle
allocates what an opcode's count asks for before reading it (a 1 TiB frame, bytes or
bytearray in 20 bytes), which a system that overcommits memory grants.
"""
from __future__ import annotations

import math
import pickle
import struct
import sys
from typing import Callable, ClassVar, Dict, List

import numpy as np

__all__ = ["Refused", "load"]

# Arrays hold numbers: booleans, integers and floats of at most 16 bytes.
_NUMBER_KINDS = "biuf"
_MAX_NDIM = 32
_LATIN1 = ("latin1", "latin-1", "iso-8859-1")


class Refused(ValueError):
    """The pickle asks for something other than NumPy arrays of numbers."""


def load(file, most_bytes):
    """``(obj, length)``: the object pickled in the binary ``file`` (read from its
    current position up to the pickle's STOP opcode), with NumPy arrays and NumPy
    integer scalars as the only objects beyond Python's plain ones (tuples, lists,
    numbers, strings...), and the pickle's length in bytes. ``most_bytes`` bounds the
    bytes the file holds from there (its size, a gzip's decompressed bound): a count
    above what is left is refused before it is allocated. The memo can still list one
    object many times for a few bytes each: what a caller builds from the object,
    the length bounds.

    Python 2's 8-bit strings come back as bytes. Raises :class:`Refused` for anything a
    NumPy pickle would not hold; a damaged pickle raises what ``pickle`` raises."""
    bounded = _Bounded(file, most_bytes)
    return _ArrayUnpickler(bounded).load(), most_bytes - bounded.left


class _Bounded:
    """A binary file's read and readline, refusing to read more than it holds."""

    def __init__(self, file, most_bytes):
        self._file, self.most_bytes, self.left = file, most_bytes, most_bytes

    def check(self, n, of):
        if n > of:
            raise Refused(f"the pickle asks for {n:,} bytes, more than the file holds "
                          f"({of:,} at most)")

    def read(self, n):
        self.check(n, self.left)
        data = self._file.read(n)
        self.left -= len(data)
        return data

    def readline(self):
        line = self._file.readline()
        self.left -= len(line)
        return line


class _Pending:
    """What a reconstructor returns before pickle's BUILD opcode gives it its state."""

    __slots__ = ()

    def build(self, state):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError


class _PendingArray(_Pending):
    """``_reconstruct(ndarray, (0,), b"b")``: an array waiting for its shape and data."""

    __slots__ = ("array",)

    def __init__(self):
        self.array = None

    def build(self, state):
        if self.array is not None:
            raise Refused("an array's state is set twice")
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise Refused("an array's state must be (version, shape, dtype, is_fortran, data)")
        if len(state) == 5 and state[0] != 1:
            raise Refused(f"unknown array pickle version {state[0]!r}")
        shape, dtype, fortran, data = state[-4:]
        if type(fortran) not in (bool, int) or fortran not in (0, 1):
            raise Refused("an array's order flag must be a boolean")
        self.array = _array(_as_bytes(data), _as_dtype(dtype), shape, "F" if fortran else "C")
        return self.array

    def result(self):
        if self.array is None:
            raise Refused("an array is used before its data is given")
        return self.array


class _PendingDtype(_Pending):
    """``dtype("f4", False, True)``: a dtype waiting for its byte order."""

    __slots__ = ("dtype", "built")

    def __init__(self, dtype):
        self.dtype, self.built = dtype, False

    def build(self, state):
        if self.built:
            raise Refused("a dtype's state is set twice")
        self.built = True
        # NumPy's state: (version, byte order, subarray, names, fields, elsize,
        # alignment, flags[, metadata]); plain numbers have no subarray or fields.
        if not (isinstance(state, tuple) and len(state) in (8, 9) and state[0] in (3, 4)
                and state[2:5] == (None, None, None) and state[8:] in ((), (None,))):
            raise Refused(f"refusing a dtype state other than a plain number's: {state!r:.80}")
        byteorder = _as_text(state[1])
        if byteorder not in ("<", ">", "|", "="):
            raise Refused(f"unknown byte order {byteorder!r}")
        if byteorder in "<>":
            self.dtype = self.dtype.newbyteorder(byteorder)
        return self.dtype

    def result(self):
        return self.dtype


class _Name:
    """A global that may be named (as an argument) but not called."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        raise Refused(f"refusing to call {self.name} from a pickle")


_NDARRAY = _Name("numpy.ndarray")


def _reconstruct(subtype, shape, typecode):
    # NumPy pickles every array as _reconstruct(ndarray, (0,), b"b") and its state; any
    # other shape or type would allocate before the state (and its data) is seen.
    if subtype is not _NDARRAY or shape != (0,) or _as_text(typecode) != "b":
        raise Refused("refusing _reconstruct other than NumPy's (ndarray, (0,), 'b')")
    return _PendingArray()


def _frombuffer(buffer, dtype, shape, order):
    """Protocol 5's form of a contiguous array."""
    if order not in ("C", "F"):
        raise Refused(f"unknown array order {order!r}")
    return _array(_as_bytes(buffer), _as_dtype(dtype), shape, order)


def _dtype(name, align=False, copy=False):
    text = _as_text(name)
    try:
        dtype = np.dtype(text) if len(text) <= 4 else None
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind not in _NUMBER_KINDS or dtype.fields or dtype.subdtype:
        raise Refused(f"refusing dtype {text!r:.20}: only numbers are allowed")
    return _PendingDtype(dtype)


def _scalar(dtype, data=None):
    """A NumPy integer scalar: the book's expanded training set has one per label."""
    dtype = _as_dtype(dtype)
    if dtype.kind not in "iu":
        raise Refused(f"refusing a NumPy scalar of {dtype}: only integer labels are allowed")
    data = _as_bytes(data)
    if len(data) != dtype.itemsize:
        raise Refused(f"a {dtype} scalar needs {dtype.itemsize} bytes, the file gives {len(data)}")
    return np.frombuffer(data, dtype)[0]


def _encode(text, encoding):
    """Python 3 pickles bytes for protocols 0-2 as _codecs.encode(text, "latin1")."""
    if not isinstance(text, str) or encoding not in _LATIN1:
        raise Refused("refusing _codecs.encode other than of a str to latin-1")
    return text.encode("latin1")


def _empty_bytes(*args):
    """... and an empty bytes object as bytes(); bytes(n) would allocate n bytes."""
    if args:
        raise Refused("refusing bytes() with arguments")
    return b""


def _array(data, dtype, shape, order):
    """The array of ``shape`` over ``data``, which must hold exactly its bytes."""
    if not (isinstance(shape, tuple) and len(shape) <= _MAX_NDIM
            and all(type(d) is int and 0 <= d <= sys.maxsize for d in shape)):
        raise Refused(f"an array's shape must be a tuple of sizes, not {shape!r:.80}")
    nbytes = math.prod(shape) * dtype.itemsize
    if len(data) != nbytes:
        raise Refused(f"an array of shape {shape} and dtype {dtype} needs {nbytes} bytes "
                      f"of data, the file gives {len(data)}")
    flat = np.frombuffer(data, dtype) if nbytes else np.empty(0, dtype)
    return flat.reshape(shape, order=order)


def _as_dtype(value):
    if isinstance(value, _PendingDtype):
        return value.dtype
    if isinstance(value, np.dtype):  # only _dtype makes dtypes: this is one of its
        return value
    raise Refused(f"expected a dtype, found {type(value).__name__}")


def _as_bytes(value):
    if isinstance(value, (bytes, bytearray)):
        return value
    if isinstance(value, str):  # Python 2's str read as text
        return value.encode("latin1")
    raise Refused(f"expected array data as bytes, found {type(value).__name__}")


def _as_text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin1")
    if isinstance(value, str):
        return value
    raise Refused(f"expected a string, found {type(value).__name__}")


# Module names as NumPy 1 (numpy.core) and NumPy 2 (numpy._core) write them; Python 2's
# and Python 3's names for bytes.
_GLOBALS = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _encode,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}
for _core in ("numpy.core", "numpy._core"):
    _GLOBALS[_core + ".multiarray", "_reconstruct"] = _reconstruct
    _GLOBALS[_core + ".multiarray", "scalar"] = _scalar
    _GLOBALS[_core + ".numeric", "_frombuffer"] = _frombuffer


class _Memo(dict):
    """Pickle's memo, where an array is stored before its state is given: what is read
    back from it is the finished array."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return value.result() if isinstance(value, _Pending) else value


class _ArrayUnpickler(pickle._Unpickler):
    dispatch: ClassVar[Dict[int, Callable[..., None]]] = dict(pickle._Unpickler.dispatch)
    # pickle's, made by load:
    stack: List[object]
    read: Callable[[int], bytes]
    readinto: Callable[[bytearray], int]
    append: Callable[[object], None]

    def __init__(self, file: _Bounded):
        # encoding="bytes": Python 2's strings (the book's array data) stay bytes, uncopied.
        super().__init__(file, encoding="bytes")
        self.memo = _Memo()
        self._bounded = file

    def find_class(self, module, name):
        try:
            return _GLOBALS[module, name]
        except KeyError:
            raise Refused(f"refusing to load {module}.{name} from a pickle: only NumPy "
                          "arrays are allowed") from None

    def load_build(self) -> None:
        # Only what a reconstructor above returned takes a state: pickle's own BUILD
        # would set attributes of any object, these functions included.
        state = self.stack.pop()
        pending = self.stack[-1]
        if not isinstance(pending, _Pending):
            raise Refused(f"refusing to set the state of a {type(pending).__name__}")
        self.stack[-1] = pending.build(state)

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self) -> None:
        # pickle's makes bytearray(n) and then reads into it, where the bytes may lie
        # in a frame already read: n is bounded by the whole file.
        (n,) = struct.unpack("<Q", self.read(8))
        self._bounded.check(n, self._bounded.most_bytes)
        data = bytearray(n)
        self.readinto(data)
        self.append(data)

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8
