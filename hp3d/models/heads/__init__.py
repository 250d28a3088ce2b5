from . import pose3d_volume_head, regression_head
from .pose3d_volume_head import *  # noqa: F401,F403
from .regression_head import *  # noqa: F401,F403

__all__ = regression_head.__all__ + pose3d_volume_head.__all__
