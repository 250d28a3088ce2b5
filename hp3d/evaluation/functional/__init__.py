from . import keypoint_eval
from .keypoint_eval import *  # noqa: F401,F403

__all__ = keypoint_eval.__all__
