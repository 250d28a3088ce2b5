from . import lifting_codec, pose3d_codec
from .lifting_codec import *  # noqa: F401,F403
from .pose3d_codec import *  # noqa: F401,F403

__all__ = lifting_codec.__all__ + pose3d_codec.__all__
