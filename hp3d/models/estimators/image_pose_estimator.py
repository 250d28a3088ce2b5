"""Image -> 3D estimator (POTTER)."""
from typing import Dict, Optional

from torch import Tensor

from hp3d.registry import MODELS

from .base import Base3DEstimator


@MODELS.register_module()
class ImagePoseEstimator(Base3DEstimator):
    """Regresses wrist-relative 3D joints from (B, 3, H, W) hand crops."""

    def extract_feat(self, inputs: Tensor,
                     data_samples: Optional[Dict] = None) -> Tensor:
        return self.backbone(inputs)


__all__ = ['ImagePoseEstimator']
