"""Targets of POTTER's 3D head: per-joint standardised wrist-relative mm."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from hp3d.datasets.metainfo import MIRROR_AXIS, NUM_JOINTS, WRIST
from hp3d.datasets.stats import load_joint_stats
from hp3d.registry import KEYPOINT_CODECS

# Per-joint statistics shipped with hp3d: the Ego-Exo4D train split's (both
# hands as they are), and the same with left hands mirrored to right hands
# (for pipelines with MirrorLeftHand: mirroring moves the mean along the
# mirror axis, from ~0 to that of a right hand).
STATS_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'stats')
DEFAULT_JOINT_STATS_FILE = osp.join(STATS_DIR, 'egoexo4d_joint_stats_mm.json')
MIRRORED_JOINT_STATS_FILE = osp.join(STATS_DIR,
                                     'egoexo4d_joint_stats_mirrored_mm.json')


@KEYPOINT_CODECS.register_module()
class Pose3DCodec:
    """Standardise wrist-relative 3D joints per joint, in millimetres.

    ``target = ((p - p_wrist) * 1000 - mean_mm) / std_mm`` with ``std_mm``
    clamped below at ``eps_mm`` (the wrist's std is 0: it is the origin).
    Joints that are not valid, or whose wrist-relative position is not
    finite, get target 0 and ``target_weight`` 0: every joint when the wrist
    3D is missing (NaN), only the wrist itself when it is merely flagged
    invalid with finite coordinates (it still anchors the other joints).
    ``flip`` mirrors the wrist-relative hand across ``MIRROR_AXIS`` (camera
    y): a left hand seen as a right hand, so one model serves both hands.

    Note:
        Shape symbols: ``N`` optional leading sample axes, ``B`` batch,
        ``K`` joints. ``encode`` works on numpy, for one sample (K, 3) or any
        leading axes (N, K, 3) at once; ``decode`` on torch batches.

    Args:
        stats_file (str, optional): Table of per-joint mean/std in mm (see
            :func:`hp3d.datasets.stats.load_joint_stats`): a path, or the
            name of a table shipped in ``hp3d/codecs/stats/``
            (``'egoexo4d_joint_stats_mirrored_mm.json'`` for left hands
            mirrored). Defaults to the Ego-Exo4D train table, unless
            ``mean_mm``/``std_mm`` are given.
        mean_mm (Sequence, optional): (K, 3) per-joint mean, mm.
        std_mm (Sequence, optional): (K, 3) per-joint std, mm.
        eps_mm (float): Smallest std used, mm. Defaults to 1.0.
    """

    def __init__(self,
                 stats_file: Optional[str] = None,
                 mean_mm: Optional[Sequence] = None,
                 std_mm: Optional[Sequence] = None,
                 eps_mm: float = 1.0) -> None:
        if (mean_mm is None) != (std_mm is None):
            raise ValueError('give both mean_mm and std_mm, or neither')
        if mean_mm is not None and stats_file is not None:
            raise ValueError('give stats_file or mean_mm/std_mm, not both')
        if eps_mm <= 0:
            raise ValueError(f'eps_mm must be positive, got {eps_mm}')
        if mean_mm is None:
            self.stats_file = stats_file or DEFAULT_JOINT_STATS_FILE
            shipped = osp.join(STATS_DIR, self.stats_file)
            if not osp.isfile(self.stats_file) and osp.isfile(shipped):
                self.stats_file = shipped
            try:
                mean, std = load_joint_stats(self.stats_file)
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'{err} The tables shipped with hp3d (a name is enough): '
                    f'{sorted(os.listdir(STATS_DIR))}; unset, '
                    f'{osp.basename(DEFAULT_JOINT_STATS_FILE)}.') from None
        else:
            self.stats_file = None
            mean = np.asarray(mean_mm, dtype=np.float64)
            std = np.asarray(std_mm, dtype=np.float64)
        source = self.stats_file or 'mean_mm/std_mm'
        for name, arr in (('mean', mean), ('std', std)):
            if arr.shape != (NUM_JOINTS, 3) or not np.isfinite(arr).all():
                raise ValueError(f'{source}: joint {name} must be a finite '
                                 f'{NUM_JOINTS}x3 table, got shape '
                                 f'{arr.shape}')
        if (std < 0).any():
            raise ValueError(f'{source}: negative joint std')
        self.eps_mm = float(eps_mm)
        self.mean_mm = mean
        self.std_mm = np.maximum(std, self.eps_mm)

    @staticmethod
    def _mirror(points: np.ndarray, flip: Union[bool, np.ndarray]
                ) -> np.ndarray:
        """Negate the ``MIRROR_AXIS`` coordinate of (N, K, 3) ``points``
        where ``flip`` (N,) is set."""
        sign = np.where(np.asarray(flip, dtype=bool), -1.0, 1.0)[..., None]
        mirrored = points.copy()
        mirrored[..., MIRROR_AXIS] *= sign
        return mirrored

    def encode(self,
               keypoints_3d: np.ndarray,
               keypoints_valid: np.ndarray,
               flip: Union[bool, np.ndarray] = False) -> Dict[str, np.ndarray]:
        """Encode one sample or a stack of samples.

        Args:
            keypoints_3d (np.ndarray): (N, K, 3) camera-frame m, NaN where
                invalid (a NaN wrist zeroes the whole hand's weight).
            keypoints_valid (np.ndarray): (N, K) bool.
            flip (bool | np.ndarray): Mirror the hand (negate the
                ``MIRROR_AXIS`` coordinate), for all samples or per sample
                (N,).

        Returns:
            dict: ``target`` (N, K, 3) float32, ``target_weight`` (N, K)
            float32.
        """
        kpts = np.asarray(keypoints_3d, dtype=np.float64)
        relative_mm = (kpts - kpts[..., WRIST:WRIST + 1, :]) * 1000.0
        relative_mm = self._mirror(relative_mm, flip)
        weight = (np.asarray(keypoints_valid, dtype=bool)
                  & np.isfinite(relative_mm).all(axis=-1))
        target = (relative_mm - self.mean_mm) / self.std_mm
        target = np.where(weight[..., None], target, 0.0)
        return dict(target=target.astype(np.float32),
                    target_weight=weight.astype(np.float32))

    def decode(self, pred: Tensor) -> Tensor:
        """Normalised predictions to wrist-relative millimetres.

        The wrist is the origin by definition, so its output is replaced
        by 0.

        Args:
            pred (Tensor): (B, K, 3) normalised. Samples encoded with
                ``flip=True`` come back mirrored: the estimator mirrors them
                back into their own hand.

        Returns:
            Tensor: (B, K, 3) wrist-relative mm, ``pred``'s dtype and device.
        """
        mean = torch.as_tensor(self.mean_mm, dtype=pred.dtype,
                               device=pred.device)
        std = torch.as_tensor(self.std_mm, dtype=pred.dtype,
                              device=pred.device)
        pred_mm = pred * std + mean
        pred_mm[..., WRIST, :] = 0.0
        return pred_mm

    def __repr__(self) -> str:
        source = (f'stats_file={self.stats_file!r}'
                  if self.stats_file else 'mean_mm/std_mm')
        return f'{self.__class__.__name__}({source}, eps_mm={self.eps_mm})'


__all__ = [
    'Pose3DCodec', 'STATS_DIR', 'DEFAULT_JOINT_STATS_FILE',
    'MIRRORED_JOINT_STATS_FILE'
]
