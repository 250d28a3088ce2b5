"""2D -> 3D lifting estimator."""
from typing import Dict, Optional

from torch import Tensor

from hp3d.registry import MODELS

from .base import Base3DEstimator


@MODELS.register_module()
class PoseLifter(Base3DEstimator):
    """Lifts (B, K, 2) normalised 2D keypoints to wrist-relative 3D.

    The backbone gets the joint validity ``data_samples['input_weight']``
    (B, K) so invalid inputs can be masked.
    """

    def extract_feat(self, inputs: Tensor,
                     data_samples: Optional[Dict] = None) -> Tensor:
        weight = None if data_samples is None else data_samples.get(
            'input_weight')
        return self.backbone(inputs, weight)


__all__ = ['PoseLifter']
