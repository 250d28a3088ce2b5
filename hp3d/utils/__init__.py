from .build import build_module
from .gc_pause import gc_paused
from .typing import ConfigType, MultiConfig, OptConfigType, OptMultiConfig

__all__ = ['build_module', 'gc_paused', 'ConfigType', 'MultiConfig',
           'OptConfigType', 'OptMultiConfig']
