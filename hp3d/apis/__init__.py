from . import (
    base_inferencer,
    camera_space,
    hand3d_inferencer,
    hand_samples,
    image_inferencer,
    inference,
    lifting_inferencer,
    model_index,
)
from .base_inferencer import *  # noqa: F401,F403
from .camera_space import *  # noqa: F401,F403
from .hand3d_inferencer import *  # noqa: F401,F403
from .hand_samples import *  # noqa: F401,F403
from .image_inferencer import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .lifting_inferencer import *  # noqa: F401,F403
from .model_index import *  # noqa: F401,F403

__all__ = (hand3d_inferencer.__all__ + image_inferencer.__all__
           + lifting_inferencer.__all__ + base_inferencer.__all__
           + hand_samples.__all__ + inference.__all__ + model_index.__all__
           + camera_space.__all__)
