from . import egoexo4d
from .camera import default_intrinsics, project
from .egoexo4d import *  # noqa: F401,F403
from .metainfo import HAND_METAINFO
from .transforms import *  # noqa: F401,F403

__all__ = egoexo4d.__all__ + ['HAND_METAINFO', 'default_intrinsics', 'project']
