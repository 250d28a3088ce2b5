from . import base, image_pose_estimator, pose_lifter
from .base import *  # noqa: F401,F403
from .image_pose_estimator import *  # noqa: F401,F403
from .pose_lifter import *  # noqa: F401,F403

__all__ = base.__all__ + pose_lifter.__all__ + image_pose_estimator.__all__
