from . import (
    bbox_transforms,
    common_transforms,
    formatting,
    loading,
    topdown_transforms,
)
from .bbox_transforms import *  # noqa: F401,F403
from .common_transforms import *  # noqa: F401,F403
from .formatting import *  # noqa: F401,F403
from .loading import *  # noqa: F401,F403
from .topdown_transforms import *  # noqa: F401,F403

__all__ = (loading.__all__ + bbox_transforms.__all__ + topdown_transforms.__all__
           + common_transforms.__all__ + formatting.__all__)
