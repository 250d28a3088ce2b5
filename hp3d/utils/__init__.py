from .build import build_module
from .typing import Batch, ConfigType, MultiConfig, OptConfigType, OptMultiConfig

__all__ = ['build_module', 'Batch', 'ConfigType', 'MultiConfig', 'OptConfigType',
           'OptMultiConfig']
