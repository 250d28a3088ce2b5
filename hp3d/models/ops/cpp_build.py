"""Compile a C++ source of this package into a shared library, once.

The kernels under ``csrc/`` are plain C++ (no PyTorch headers, so a build
takes about a second) called through ``ctypes``. They are compiled on first
use, like inductor's kernels, for the vector instructions PyTorch detected
on this machine, and cached: the library's name is a hash of the source, the
compiler and the flags, so an edited source, another compiler or another
instruction set builds anew and machines sharing a cache directory never
load each other's builds.
"""
import ctypes
import hashlib
import os
import os.path as osp
import shutil
import subprocess
import tempfile
from typing import List

import torch

from hp3d.utils.atomic_io import replace_atomically

__all__ = ['KernelBuildError', 'cache_dir', 'load_library']

CSRC = osp.join(osp.dirname(__file__), 'csrc')
# Environment variables: the compiler, and where built libraries are kept.
CXX_ENV = 'CXX'
CACHE_ENV = 'HP3D_KERNEL_CACHE'
BASE_FLAGS = ('-O3', '-std=c++17', '-shared', '-fPIC', '-fopenmp')
# torch.backends.cpu.get_cpu_capability() -> flags for that vector ISA
ISA_FLAGS = {
    'AVX512': ('-mavx512f', '-mavx512vl', '-mavx512dq', '-mavx512bw',
               '-mavx2', '-mfma', '-mprefer-vector-width=512'),
    'AVX2': ('-mavx2', '-mfma'),
}


class KernelBuildError(RuntimeError):
    """A kernel could not be compiled (no compiler, or the build failed)."""


def cache_dir() -> str:
    """Where built libraries are kept: ``$HP3D_KERNEL_CACHE``, else
    ``$XDG_CACHE_HOME/hp3d/kernels`` (``~/.cache/hp3d/kernels``)."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    base = os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache')
    return osp.join(base, 'hp3d', 'kernels')


def _compiler() -> str:
    cxx = os.environ.get(CXX_ENV, 'g++')
    if shutil.which(cxx) is None:
        raise KernelBuildError(
            f'no C++ compiler {cxx!r} on PATH (set ${CXX_ENV}); the C++ '
            f'kernels of hp3d.models.ops need one, as torch.compile does')
    return cxx


def _flags() -> List[str]:
    isa = torch.backends.cpu.get_cpu_capability()
    return [*BASE_FLAGS, *ISA_FLAGS.get(isa, ())]


def _compiler_version(cxx: str) -> str:
    return subprocess.run([cxx, '--version'], capture_output=True,
                          text=True).stdout


def load_library(name: str) -> ctypes.CDLL:
    """Build ``csrc/<name>.cpp`` if no cached build matches, and load it.

    Args:
        name (str): Source file stem under ``hp3d/models/ops/csrc``.

    Returns:
        ctypes.CDLL: The loaded library (callers keep it: each call checks
        the cache and the compiler again).

    Raises:
        KernelBuildError: No compiler, or the compiler's error output.
    """
    src = osp.join(CSRC, f'{name}.cpp')
    with open(src, 'rb') as f:
        source = f.read()
    cxx = _compiler()
    flags = _flags()
    key = hashlib.sha256(b'\0'.join(
        [source, _compiler_version(cxx).encode(), ' '.join(flags).encode()]))
    out_dir = cache_dir()
    path = osp.join(out_dir, f'{name}-{key.hexdigest()[:16]}.so')
    if not osp.exists(path):
        # built under a temporary name and renamed: concurrent builds (DDP
        # ranks) and a killed build never leave a partial library behind
        try:
            os.makedirs(out_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix='.so', dir=out_dir)
        except OSError as e:
            raise KernelBuildError(
                f'cannot write the kernel cache {out_dir} ({e}); set '
                f'${CACHE_ENV} to a writable directory') from e
        os.close(fd)
        try:
            result = subprocess.run([cxx, *flags, src, '-o', tmp],
                                    capture_output=True, text=True)
            if result.returncode:
                raise KernelBuildError(
                    f'building {src} failed ({cxx} {" ".join(flags)}):\n'
                    f'{result.stderr.strip()}')
            replace_atomically(tmp, path)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)
    return ctypes.CDLL(path)
