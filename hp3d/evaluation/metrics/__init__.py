from . import hand3d_metric, keypoint_2d_metric
from .hand3d_metric import *  # noqa: F401,F403
from .keypoint_2d_metric import *  # noqa: F401,F403

__all__ = hand3d_metric.__all__ + keypoint_2d_metric.__all__
