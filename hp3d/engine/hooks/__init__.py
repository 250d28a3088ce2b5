from .atomic_checkpoint_hook import AtomicCheckpointHook
from .logger_hook import MainProcessLoggerHook
from .nan_guard_hook import NaNGuardHook

__all__ = ['AtomicCheckpointHook', 'MainProcessLoggerHook', 'NaNGuardHook']
