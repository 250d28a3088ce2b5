"""Checkpoint loading that never executes code from the file.

torch >= 2.6 loads with ``weights_only=True``: the unpickler only rebuilds
tensors, containers and the globals on an allow-list. mmengine 0.10.7 writes
a few objects beyond tensors into every checkpoint, so hp3d allow-lists
exactly those (found by saving a real checkpoint with a Runner, an optimizer,
param schedulers, a validation metric and the message hub, then listing its
globals with ``torch.serialization.get_unsafe_globals_in_checkpoint``):

- ``mmengine.logging.history_buffer.HistoryBuffer``: the message hub's logged
  scalars. Its pickled state names its own statistic methods through
  ``builtins.getattr(HistoryBuffer, 'min')``. The real ``getattr`` would hand
  a checkpoint any attribute of any object it can reach (``getattr.__self__``
  is the builtins module, hence ``eval``), so that name is bound to
  :func:`checkpoint_getattr`, which resolves only the attributes in
  :data:`GETATTR_ALLOWED`.
- ``OneCycleParamScheduler`` (behind ``OneCycleLR``): its state holds its
  annealing function, pickled as
  ``getattr(OneCycleParamScheduler, '_annealing_cos')``. A checkpoint can
  make an inert instance of the class (rebuilt without ``__init__``), which
  nothing calls.
- numpy arrays, scalars and dtypes (buffer histories, ``np.float64`` metric
  values in the message hub, arrays in ``dataset_meta``): the array and scalar
  reconstructors, ``numpy.ndarray``, ``numpy.dtype`` and the numeric/bool
  dtype classes (numpy 2 rebuilds a dtype as an instance of its class). The
  reconstructors are also allowed under their numpy 1 names
  (``numpy.core.multiarray.*``): checkpoints saved with numpy 1 (most of the
  OpenMMLab model zoo) name them so.

Beyond mmengine: ``argparse.Namespace``, the ``args`` that timm's training
script (which trained the POTTER ImageNet classifiers) saves in its
checkpoints; a plain attribute container.

``collections.OrderedDict``, ``collections.Counter`` (``MultiStepLR``
milestones) and tensors are on torch's own list.
"""
import argparse
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
from mmengine.runner import CheckpointLoader

__all__ = [
    'SAFE_GLOBALS', 'GETATTR_ALLOWED', 'UnsafeCheckpointError',
    'CorruptCheckpointError', 'checkpoint_getattr',
    'register_safe_globals', 'load_local_checkpoint'
]

# The only attributes a checkpoint may look up, per owner: HistoryBuffer's
# statistic methods (its defaults) and OneCycleParamScheduler's annealing
# functions.
GETATTR_ALLOWED = {
    HistoryBuffer: ('min', 'max', 'current', 'mean'),
    OneCycleParamScheduler: ('_annealing_cos', '_annealing_linear'),
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asks for a global that is not on hp3d's allow-list."""


def checkpoint_getattr(owner: Any, name: str) -> Callable:
    """The only ``getattr`` a checkpoint may call.

    Args:
        owner (Any): A class of :data:`GETATTR_ALLOWED`.
        name (str): One of its allowed attributes.

    Returns:
        Callable: ``getattr(owner, name)``.

    Raises:
        UnsafeCheckpointError: For any other object or attribute.
    """
    allowed = next((names for cls, names in GETATTR_ALLOWED.items()
                    if owner is cls), ())
    if name not in allowed:
        listed = '; '.join(f'{cls.__name__}.{{{",".join(names)}}}'
                           for cls, names in GETATTR_ALLOWED.items())
        raise UnsafeCheckpointError(
            f'the checkpoint calls getattr({owner!r}, {name!r}); only '
            f'{listed} may be looked up')
    return getattr(owner, name)


def _numpy_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """numpy objects a weights-only unpickler needs, for numpy 1 and 2."""
    # Taken from numpy's own pickling so the module path is right for the
    # installed numpy (``numpy._core`` in 2.x, ``numpy.core`` in 1.x).
    reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]
    scalar = np.float64(0).__reduce__()[0]
    dtype_classes = [
        type(np.dtype(name)) for name in (
            'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
            'uint32', 'uint64', 'float16', 'float32', 'float64')
    ]
    aliases = [(fn, f'numpy.{package}.multiarray.{fn.__name__}')
               for fn in (reconstruct, scalar)
               for package in ('core', '_core')]
    return [reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes,
            *aliases]


SAFE_GLOBALS: Tuple[Union[Callable, Tuple[Callable, str]], ...] = (
    HistoryBuffer,
    OneCycleParamScheduler,
    argparse.Namespace,
    (checkpoint_getattr, 'builtins.getattr'),
    *_numpy_globals(),
)


def register_safe_globals() -> None:
    """Allow-list :data:`SAFE_GLOBALS` for every weights-only ``torch.load``.

    Idempotent; called when :mod:`hp3d.engine` is imported.
    """
    torch.serialization.add_safe_globals(list(SAFE_GLOBALS))


def _offending_global(message: str) -> Optional[str]:
    """The global torch's weights-only unpickler refused, if it names one."""
    match = re.search(r'GLOBAL (\S+)', message)
    return match.group(1) if match else None


def _unpickler_reason(message: str) -> str:
    """The unpickler's own reason, without torch's advice around it."""
    match = re.search(r'WeightsUnpickler error:\s*(.+?)(?:\n\n|$)', message,
                      re.DOTALL)
    reason = match.group(1).strip() if match else message
    return reason.split(' Please use')[0]


class CorruptCheckpointError(ValueError):
    """A file that is not a readable PyTorch checkpoint: empty, truncated,
    damaged, or not a checkpoint at all."""


# torch.save's zip format, and the legacy pickle format (protocol 2)
ZIP_MAGIC = b'PK'
LEGACY_MAGIC = b'\x80'


def _check_file(filename: str) -> None:
    """Raise :class:`CorruptCheckpointError` unless ``filename`` is a whole
    checkpoint file; in the zip format, every member's CRC is verified."""
    size = osp.getsize(filename)
    if size == 0:
        raise CorruptCheckpointError(f'Checkpoint {filename} is empty (0 '
                                     'bytes)')
    with open(filename, 'rb') as f:
        head = f.read(8)
    if zipfile.is_zipfile(filename):
        try:
            with zipfile.ZipFile(filename) as archive:
                for info in archive.infolist():
                    if info.CRC == 0:
                        continue  # saved with compute_crc32=False
                    with archive.open(info) as member:
                        while member.read(1 << 24):
                            pass  # BadZipFile on a CRC mismatch
        except zipfile.BadZipFile as err:
            raise CorruptCheckpointError(
                f'Checkpoint {filename} ({size} bytes) is damaged: {err}. '
                'Copy it again.') from None
    elif head.startswith(ZIP_MAGIC):
        raise CorruptCheckpointError(
            f'Checkpoint {filename} ({size} bytes) is truncated: its zip '
            'directory is missing (an interrupted copy or download?)')
    elif not head.startswith(LEGACY_MAGIC):
        raise CorruptCheckpointError(
            f'{filename} is not a PyTorch checkpoint: it starts with '
            f'{head!r}')


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename: str,
                          map_location: Optional[Union[str, Callable]] = None
                          ) -> dict:
    """Load a local checkpoint with ``weights_only=True``.

    Registered as mmengine's loader for local paths, so ``Runner.resume``,
    ``Runner.load_checkpoint``, ``load_checkpoint`` and
    ``init_cfg=dict(type='Pretrained')`` all come here.

    Args:
        filename (str): Path of the checkpoint (``~`` is expanded).
        map_location (str | Callable, optional): As in :func:`torch.load`.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file needs a global outside the allow-list
            (for example a pickled object whose ``__reduce__`` runs a shell
            command); nothing from the file was executed.
        CorruptCheckpointError: The file is empty, truncated, damaged (a
            CRC mismatch) or not a checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    _check_file(filename)
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except EOFError:
        raise CorruptCheckpointError(
            f'Checkpoint {filename} ({osp.getsize(filename)} bytes) ends '
            'early: it is truncated') from None
    except pickle.UnpicklingError as err:
        offending = _offending_global(str(err))
        what = (f'the global `{offending}`' if offending else
                'an object outside the allow-list')
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: it needs {what}, which '
            'is not on the allow-list of hp3d.engine.safe_load.SAFE_GLOBALS. '
            'Loading stopped before anything in the file was run. A '
            'checkpoint may hold only tensors, numbers, strings, containers '
            'and the mmengine/numpy types mmengine itself saves. '
            f'Unpickler: {_unpickler_reason(str(err))}') from None
