from . import coco_export, coco_hand, egoexo4d, lifting_dataset
from .camera import default_intrinsics, project
from .coco_export import *  # noqa: F401,F403
from .coco_hand import *  # noqa: F401,F403
from .egoexo4d import *  # noqa: F401,F403
from .lifting_dataset import *  # noqa: F401,F403
from .metainfo import HAND_METAINFO
from .stats import annotation_stats, normalisation_stats
from .synthetic import PosePrior, generate_dataset
from .transforms import *  # noqa: F401,F403

__all__ = (egoexo4d.__all__ + lifting_dataset.__all__ + coco_export.__all__
           + coco_hand.__all__ + [
               'HAND_METAINFO', 'default_intrinsics', 'project',
               'annotation_stats', 'normalisation_stats', 'PosePrior',
               'generate_dataset'
           ])
