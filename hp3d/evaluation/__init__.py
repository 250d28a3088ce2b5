from . import baselines, functional, metrics, submission
from .baselines import *  # noqa: F401,F403
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .submission import *  # noqa: F401,F403

__all__ = baselines.__all__ + functional.__all__ + metrics.__all__ + submission.__all__
