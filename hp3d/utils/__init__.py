from .build import build_module
from .typing import ConfigType, MultiConfig, OptConfigType, OptMultiConfig

__all__ = ['build_module', 'ConfigType', 'MultiConfig', 'OptConfigType',
           'OptMultiConfig']
