"""Type aliases shared across hp3d."""
from typing import Dict, List, Optional, Union

from mmengine.config import ConfigDict

ConfigType = Union[ConfigDict, dict]
OptConfigType = Optional[ConfigType]
MultiConfig = Union[ConfigType, List[ConfigType]]
OptMultiConfig = Optional[MultiConfig]
# A batch of samples as the data loaders collate it: tensors stacked on dim 0,
# strings kept as lists (see docs/design.md).
Batch = Dict[str, object]

__all__ = ['ConfigType', 'OptConfigType', 'MultiConfig', 'OptMultiConfig',
           'Batch']
