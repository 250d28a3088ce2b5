"""Type aliases shared across hp3d."""
from typing import List, Optional, Union

from mmengine.config import ConfigDict

ConfigType = Union[ConfigDict, dict]
OptConfigType = Optional[ConfigType]
MultiConfig = Union[ConfigType, List[ConfigType]]
OptMultiConfig = Optional[MultiConfig]

__all__ = ['ConfigType', 'OptConfigType', 'MultiConfig', 'OptMultiConfig']
