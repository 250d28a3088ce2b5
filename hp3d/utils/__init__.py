from .typing import Batch, ConfigType, MultiConfig, OptConfigType, OptMultiConfig

__all__ = ['Batch', 'ConfigType', 'MultiConfig', 'OptConfigType',
           'OptMultiConfig']
