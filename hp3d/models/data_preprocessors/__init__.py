from . import data_preprocessor
from .data_preprocessor import *  # noqa: F401,F403

__all__ = data_preprocessor.__all__
