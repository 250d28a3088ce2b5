"""An out-of-tree hp3d plugin: registered here, used by configs through
``custom_imports=dict(imports=['hp3d_demo_plugin'])``."""
import torch
from mmcv.transforms import BaseTransform
from mmengine.evaluator import BaseMetric
from torch import nn

from hp3d.models.heads import JointRegressionHead
from hp3d.registry import METRICS, MODELS, TRANSFORMS


@MODELS.register_module()
class HuberLoss(nn.Module):
    """Smooth-L1 over valid joints."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, pred, target, weight=None):
        per_joint = nn.functional.smooth_l1_loss(
            pred, target, reduction='none', beta=self.beta).mean(-1)
        if weight is None:
            return per_joint.mean()
        return (per_joint * weight).sum() / weight.sum().clamp(min=1)


@MODELS.register_module()
class ScaledRegressionHead(JointRegressionHead):
    """The lifting head with its output multiplied by a constant."""

    def __init__(self, scale: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = scale

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return super().forward(feats) * self.scale


@TRANSFORMS.register_module()
class AddOffset2D(BaseTransform):
    """Shifts the 2D keypoints by a constant, px."""

    def __init__(self, offset_px: float = 0.0) -> None:
        self.offset_px = offset_px

    def transform(self, results: dict) -> dict:
        results['keypoints_2d'] = results['keypoints_2d'] + self.offset_px
        return results


@METRICS.register_module()
class CountHands(BaseMetric):
    """Number of evaluated hands."""

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(1 for _ in data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(hands=len(results))
