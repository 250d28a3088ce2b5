from .metainfo import HAND_METAINFO
from .transforms import *  # noqa: F401,F403

__all__ = ['HAND_METAINFO']
