"""The C core is one shared library that every binding module links, so its state (the
chosen micro-kernel) is one state in the process, whichever module runs a kernel."""
import ctypes
import importlib
import pathlib
import sys

import pytest

import nnfast
from nnfast import _kernels

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the core is an ELF shared library")

PACKAGE = pathlib.Path(nnfast.__file__).parent
MODULES = ["_runtime", "_arrays", "_kernels", "_conv", "_engine", "_curvature"]


def _mapped(name):
    """The files of this process's memory map whose name is `name`."""
    with open("/proc/self/maps") as maps:
        return {line.split()[-1] for line in maps if line.rstrip().endswith("/" + name)}


def test_every_binding_module_shares_the_one_core_library():
    for module in MODULES:
        importlib.import_module(f"nnfast.{module}")
    # One copy in memory, the one installed beside the modules (found through their
    # RPATH $ORIGIN), whichever module was loaded first.
    assert _mapped("libnnfast_core.so") == {str((PACKAGE / "libnnfast_core.so").resolve())}


@pytest.mark.parametrize("arch", _kernels.supported_archs())
def test_the_isa_set_through_the_bindings_is_the_library_s(arch):
    core = ctypes.CDLL(str(PACKAGE / "libnnfast_core.so"))
    before = _kernels.get_arch()
    try:
        _kernels.set_arch(arch)
        # Had a module linked a private copy of the core, the library's own variable
        # would still hold the ISA chosen at import.
        assert core.nnf_arch_get() == _kernels.ARCHS.index(arch)
    finally:
        _kernels.set_arch(before)
    assert core.nnf_arch_get() == _kernels.ARCHS.index(before)
