"""Targets of the lifting Transformer: normalised 2D in, wrist-relative 3D out.
"""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from hp3d.datasets.metainfo import WRIST
from hp3d.registry import KEYPOINT_CODECS


def _stat(values: Sequence[float], size: int, name: str,
          positive: bool = False) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (size, ) or not np.isfinite(arr).all():
        raise ValueError(f'{name} must be {size} finite numbers, got {values}')
    if positive and (arr <= 0).any():
        raise ValueError(f'{name} must be positive, got {values}')
    return arr


@KEYPOINT_CODECS.register_module()
class LiftingCodec:
    """Normalise 2D keypoints and wrist-relative 3D joints for lifting.

    Inputs are 2D pixels standardised per axis; invalid or missing joints
    become 0 with ``input_weight`` 0 (masked, not silently the mean). Targets
    are 3D joints relative to the wrist, standardised per axis in metres;
    ``target_weight`` (and the target) is 0 where the joint is not valid or
    its wrist-relative position is not finite: every joint when the wrist
    3D is missing (NaN), but only the wrist itself when the wrist is merely
    flagged invalid with finite coordinates (it still anchors the other
    joints). The defaults are the Ego-Exo4D statistics of
    ``DATA.md`` in the native (landscape) view of the annotation files: the
    seed project's 2D numbers are in the portrait view (u', v') =
    (511 - v, u) and are mapped back here.

    Note:
        Shape symbols: ``N`` optional leading sample axes, ``B`` batch,
        ``K`` joints. ``encode`` works on numpy, for one sample (K, ...) or
        any leading axes (N, K, ...) at once; ``decode`` on torch batches.

    Args:
        input_mean_px (Sequence[float]): (2,) mean of 2D inputs, px.
        input_std_px (Sequence[float]): (2,) std of 2D inputs, px.
        target_mean_m (Sequence[float]): (3,) mean of wrist-relative 3D, m.
        target_std_m (Sequence[float]): (3,) std of wrist-relative 3D, m.
    """

    def __init__(self,
                 input_mean_px: Sequence[float] = (337.413, 228.421),
                 input_std_px: Sequence[float] = (50.378, 65.292),
                 target_mean_m: Sequence[float] = (-0.04980, 0.00385,
                                                   0.07263),
                 target_std_m: Sequence[float] = (0.04345, 0.05392,
                                                  0.05025)) -> None:
        self.input_mean_px = _stat(input_mean_px, 2, 'input_mean_px')
        self.input_std_px = _stat(input_std_px, 2, 'input_std_px', True)
        self.target_mean_m = _stat(target_mean_m, 3, 'target_mean_m')
        self.target_std_m = _stat(target_std_m, 3, 'target_std_m', True)

    def encode(self,
               keypoints_2d: np.ndarray,
               keypoints_3d: Optional[np.ndarray] = None,
               keypoints_valid: Optional[np.ndarray] = None
               ) -> Dict[str, np.ndarray]:
        """Encode one sample or a stack of samples.

        Args:
            keypoints_2d (np.ndarray): (N, K, 2) px, NaN where missing.
            keypoints_3d (np.ndarray, optional): (N, K, 3) camera-frame m.
            keypoints_valid (np.ndarray, optional): (N, K) bool; default:
                every joint with finite coordinates.

        Returns:
            dict: ``inputs`` (N, K, 2) float32 and ``input_weight`` (N, K)
            float32; with ``keypoints_3d`` also ``target`` (N, K, 3) float32
            and ``target_weight`` (N, K) float32.
        """
        kpts_2d = np.asarray(keypoints_2d, dtype=np.float64)
        valid = (np.ones(kpts_2d.shape[:-1], dtype=bool)
                 if keypoints_valid is None else
                 np.asarray(keypoints_valid, dtype=bool))
        input_weight = valid & np.isfinite(kpts_2d).all(axis=-1)
        inputs = (kpts_2d - self.input_mean_px) / self.input_std_px
        inputs = np.where(input_weight[..., None], inputs, 0.0)
        encoded = dict(
            inputs=inputs.astype(np.float32),
            input_weight=input_weight.astype(np.float32))
        if keypoints_3d is not None:
            kpts_3d = np.asarray(keypoints_3d, dtype=np.float64)
            relative = kpts_3d - kpts_3d[..., WRIST:WRIST + 1, :]
            target_weight = valid & np.isfinite(relative).all(axis=-1)
            target = (relative - self.target_mean_m) / self.target_std_m
            target = np.where(target_weight[..., None], target, 0.0)
            encoded.update(
                target=target.astype(np.float32),
                target_weight=target_weight.astype(np.float32))
        return encoded

    def decode(self, pred: Tensor) -> Tensor:
        """Normalised predictions to wrist-relative millimetres.

        The wrist is the origin by definition, so its output (a constant
        target) is replaced by 0.

        Args:
            pred (Tensor): (B, K, 3) normalised.

        Returns:
            Tensor: (B, K, 3) wrist-relative mm, ``pred``'s dtype and device.
        """
        mean = torch.as_tensor(self.target_mean_m, dtype=pred.dtype,
                               device=pred.device)
        std = torch.as_tensor(self.target_std_m, dtype=pred.dtype,
                              device=pred.device)
        pred_mm = (pred * std + mean) * 1000.0
        pred_mm[..., WRIST, :] = 0.0
        return pred_mm

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'input_mean_px={tuple(self.input_mean_px)}, '
                f'input_std_px={tuple(self.input_std_px)}, '
                f'target_mean_m={tuple(self.target_mean_m)}, '
                f'target_std_m={tuple(self.target_std_m)})')


__all__ = ['LiftingCodec']
