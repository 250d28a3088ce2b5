"""Runner, loop, hooks and helpers behind hp3d's reliability guarantees.

Importing this package allow-lists the globals mmengine checkpoints need for
``torch.load(weights_only=True)`` and makes mmengine load local checkpoints
through :func:`load_local_checkpoint` (see docs/reliability.md).
"""
from hp3d.utils.atomic_io import replace_atomically, write_text_atomic

from .config_errors import (
    explain_unknown_type,
    registered_names,
    unknown_types_explained,
)
from .dist import destroy_dist, init_cpu_dist
from .flat_adam import FlatAdam
from .hooks import AtomicCheckpointHook, MainProcessLoggerHook, NaNGuardHook
from .loops import ResumableEpochBasedTrainLoop
from .rng import get_rng_state, preserved_rng_state, set_rng_state
from .runner import Hp3dRunner
from .safe_load import (
    SAFE_GLOBALS,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    load_local_checkpoint,
    register_safe_globals,
)

register_safe_globals()

__all__ = [
    'Hp3dRunner', 'ResumableEpochBasedTrainLoop', 'FlatAdam', 'AtomicCheckpointHook',
    'NaNGuardHook', 'MainProcessLoggerHook', 'SAFE_GLOBALS',
    'UnsafeCheckpointError',
    'CorruptCheckpointError',
    'load_local_checkpoint', 'register_safe_globals', 'init_cpu_dist',
    'destroy_dist',
    'get_rng_state', 'set_rng_state', 'preserved_rng_state',
    'replace_atomically', 'write_text_atomic', 'explain_unknown_type',
    'registered_names', 'unknown_types_explained'
]
