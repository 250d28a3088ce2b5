from . import regression_losses
from .regression_losses import *  # noqa: F401,F403

__all__ = regression_losses.__all__
