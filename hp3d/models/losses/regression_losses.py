"""Keypoint regression losses with per-joint validity weights.

Note:
    B: batch size, K: joints. Every loss takes ``pred`` and ``target`` of shape
    (B, K, C) and a ``weight`` of shape (B, K) that is 0 for invalid joints, so an
    invalid joint never contributes, whatever its (NaN-free) target holds.
"""
from typing import Optional

import torch
from torch import Tensor, nn

from hp3d.registry import MODELS


def _weighted_mean(per_joint: Tensor, weight: Optional[Tensor]) -> Tensor:
    """Mean of (B, K) values over joints with weight > 0 (weighted)."""
    if weight is None:
        return per_joint.mean()
    weight = weight.to(per_joint.dtype)
    # clamp: a batch without a single valid joint gives 0, not NaN (a
    # clamp at 1 would shrink the mean of fractional weights summing below 1)
    return (per_joint * weight).sum() / weight.sum().clamp(
        min=torch.finfo(weight.dtype).eps)


@MODELS.register_module()
class MaskedMSELoss(nn.Module):
    """Mean squared error over valid joints (the official POTTER/seed loss).

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): (B, K, C) predictions.
            target (Tensor): (B, K, C) targets.
            weight (Tensor, optional): (B, K) joint weights, 0 = invalid.

        Returns:
            Tensor: scalar loss, mean over valid joints and the C coordinates.
        """
        per_joint = (pred - target).pow(2).mean(dim=-1)
        return self.loss_weight * _weighted_mean(per_joint, weight)


@MODELS.register_module()
class L1Loss(nn.Module):
    """Mean absolute error over valid joints.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Same arguments as :meth:`MaskedMSELoss.forward`."""
        per_joint = (pred - target).abs().mean(dim=-1)
        return self.loss_weight * _weighted_mean(per_joint, weight)


@MODELS.register_module()
class MPJPELoss(nn.Module):
    """Mean per-joint position error: mean Euclidean distance over valid joints.

    In the codecs' normalised space the coordinates have different scales; pass
    ``scale`` (C,) (e.g. the target std in mm) to measure the error in mm.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        scale (tuple, optional): Per-coordinate factor applied to the difference
            before the norm. Defaults to None (no scaling).
    """

    def __init__(self, loss_weight: float = 1.0,
                 scale: Optional[tuple] = None) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        if scale is None:
            self.scale = None
        else:
            self.register_buffer('scale', torch.as_tensor(scale).float(),
                                 persistent=False)

    def forward(self, pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Same arguments as :meth:`MaskedMSELoss.forward`."""
        diff = pred - target
        if self.scale is not None:
            diff = diff * self.scale
        # eps keeps the gradient finite where pred == target exactly
        per_joint = diff.pow(2).sum(dim=-1).add(1e-12).sqrt()
        return self.loss_weight * _weighted_mean(per_joint, weight)


__all__ = ['MaskedMSELoss', 'L1Loss', 'MPJPELoss']
