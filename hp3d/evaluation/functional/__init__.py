from . import keypoint_2d_eval, keypoint_eval
from .keypoint_2d_eval import *  # noqa: F401,F403
from .keypoint_eval import *  # noqa: F401,F403

__all__ = keypoint_eval.__all__ + keypoint_2d_eval.__all__
