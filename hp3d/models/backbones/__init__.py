from . import pose_transformer, potter
from .pose_transformer import *  # noqa: F401,F403
from .potter import *  # noqa: F401,F403

__all__ = pose_transformer.__all__ + potter.__all__
