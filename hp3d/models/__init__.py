from .backbones import *  # noqa: F401,F403
from .backbones import __all__ as _backbones
from .estimators import *  # noqa: F401,F403
from .estimators import __all__ as _estimators
from .heads import *  # noqa: F401,F403
from .heads import __all__ as _heads
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses

__all__ = [*_backbones, *_estimators, *_heads, *_losses]
