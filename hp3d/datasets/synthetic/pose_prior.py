"""The distribution of egocentric hand poses, calibrated to Ego-Exo4D.

A hand's pose is a deterministic function of a standard-normal latent vector
(:data:`LATENT_DIM` numbers): global orientation, image position and depth,
finger curls and thumb angles. Sampling latents i.i.d. gives the marginal pose
distribution (used to calibrate and test the statistics); sampling them as
smooth random processes (:mod:`.motion`) gives video-like takes with the same
marginals.

The default :class:`PosePrior` was fitted (see :mod:`.calibrate`) so that the
wrist-relative per-joint mean/std of the generated annotations match the
official train split's (``real_joint_stats_mm.json``) and the hands' image
positions and box sizes match the public test file. Both hands share the
prior: a left hand is a mirrored right hand (camera ``y -> -y``), placed with
its own image-position distribution.

Note:
    Shape symbols: ``N`` hands, ``F`` = 5 fingers.
"""
from dataclasses import dataclass, fields
from typing import Dict, Tuple

import numpy as np

from .hand_model import ANGLE_LIMITS_DEG

# Latent layout: name -> (start, stop) in the latent vector.
LATENT_SLICES: Dict[str, Tuple[int, int]] = {
    'orientation': (0, 3),  # about local X (flexion), Y (roll), Z (deviation)
    'position': (3, 6),  # image u, image v, log depth
    'grip': (6, 7),  # curl shared by index..pinky
    'curl': (7, 11),  # own curl of index..pinky
    'pip': (11, 15),  # PIP flexion not explained by the curl
    'dip': (15, 19),  # DIP flexion not explained by the PIP
    'abduction': (19, 23),  # index..pinky
    'thumb': (23, 28),  # abduction, roll, CMC, MCP, IP of the thumb
    'opposition': (28, 29),  # shared by thumb abduction, roll and CMC
}
LATENT_DIM = 29

# How much of a finger's curl is shared with the other fingers (grip), of a
# PIP's flexion with its finger's curl, and of a DIP's with its PIP.
GRIP_SHARE = 0.6
PIP_FROM_CURL = 0.8
DIP_FROM_PIP = 0.85
# Loadings of the opposition latent on thumb abduction, roll and CMC flexion.
OPPOSITION_LOADINGS = np.array([0.7, 0.7, 0.5])


@dataclass(frozen=True)
class PosePrior:
    """Parameters of the egocentric hand pose distribution.

    Angles are in degrees, lengths in mm, positions in pixels of the 512x512
    camera (scaled with the image size). Orientation is the rotation from the
    local right-hand frame (see :mod:`.hand_model`) to the camera frame.

    Args:
        orientation_rotvec (tuple): mean local->camera rotation of a right
            hand, axis-angle (rad).
        orientation_scale_tril (tuple): (3, 3) lower-triangular scale of the
            rotation (axis-angle, rad, local axes: X wrist flexion, Y
            pronation/supination, Z deviation) applied after the mean; its
            product with its transpose is the rotation's covariance.
        finger_flex_mean (tuple): (4, 3) mean MCP/PIP/DIP flexion of
            index..pinky.
        finger_flex_std (tuple): (4, 3) std of the same.
        abduction_mean (tuple): (4,) mean abduction of index..pinky.
        abduction_std (float): std of finger abduction.
        thumb_mean (tuple): (5,) mean thumb abduction (negative: away from the
            palm), roll (opposition), CMC, MCP and IP flexion.
        thumb_std (tuple): (5,) std of the same.
        thumb_base_mm (tuple): thumb CMC in the template hand.
        palm_scale (float): scale of the template MCP positions.
        palm_width_scale (float): extra scale of the MCPs' ulnar offsets.
        finger_length_scale (float): scale of index..pinky phalanges.
        thumb_length_scale (float): scale of the thumb bones.
        right_center_px (tuple): mean image position (u, v) of a right hand's
            joint centroid.
        left_center_px (tuple): the same for a left hand.
        center_std_px (tuple): std of the image position (u, v).
        depth_median_m (float): median depth of the joint centroid.
        depth_log_std (float): std of the log depth.
    """

    orientation_rotvec: Tuple[float, ...] = (-0.6066, 0.9512, -0.7468)
    orientation_scale_tril: Tuple[Tuple[float, ...], ...] = (
        (0.30, 0.0, 0.0), (0.0, 0.35, 0.0), (0.0, 0.0, 0.30))
    finger_flex_mean: Tuple[Tuple[float, ...], ...] = (
        (20.0, 30.0, 20.0), (20.0, 30.0, 20.0), (20.0, 30.0, 20.0),
        (20.0, 30.0, 20.0))
    finger_flex_std: Tuple[Tuple[float, ...], ...] = (
        (20.0, 20.0, 15.0), (20.0, 20.0, 15.0), (20.0, 20.0, 15.0),
        (20.0, 20.0, 15.0))
    abduction_mean: Tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    abduction_std: float = 6.0
    thumb_mean: Tuple[float, ...] = (-15.0, 20.0, 10.0, 15.0, 15.0)
    thumb_std: Tuple[float, ...] = (12.0, 12.0, 12.0, 12.0, 15.0)
    thumb_base_mm: Tuple[float, ...] = (-20.0, 28.0, -12.0)
    palm_scale: float = 1.0
    palm_width_scale: float = 1.0
    finger_length_scale: float = 1.0
    thumb_length_scale: float = 1.0
    right_center_px: Tuple[float, ...] = (355.0, 165.0)
    left_center_px: Tuple[float, ...] = (360.0, 290.0)
    center_std_px: Tuple[float, ...] = (38.0, 36.0)
    depth_median_m: float = 0.30
    depth_log_std: float = 0.20

    def to_vector(self) -> np.ndarray:
        """All parameters flattened (field order), for calibration."""
        return np.concatenate([
            np.ravel(np.asarray(getattr(self, f.name), dtype=float))
            for f in fields(self)
        ])

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> 'PosePrior':
        """Inverse of :meth:`to_vector`."""
        values, start = {}, 0
        for f in fields(cls):
            default = np.asarray(f.default, dtype=float)
            stop = start + default.size
            chunk = np.asarray(vector[start:stop], dtype=float)
            if default.ndim == 0:
                values[f.name] = float(chunk[0])
            else:
                values[f.name] = _to_tuple(chunk.reshape(default.shape))
            start = stop
        return cls(**values)


def _to_tuple(array: np.ndarray):
    if array.ndim == 1:
        return tuple(round(float(v), 4) for v in array)
    return tuple(_to_tuple(row) for row in array)


def _latent(z: np.ndarray, name: str) -> np.ndarray:
    start, stop = LATENT_SLICES[name]
    return z[..., start:stop]


def latents_to_angles(prior: PosePrior, z: np.ndarray) -> np.ndarray:
    """Chain angles of hands given their latents.

    Args:
        prior (PosePrior): the pose distribution.
        z (np.ndarray): (N, LATENT_DIM) standard-normal latents.

    Returns:
        np.ndarray: (N, F, 5) angles in radians, within
        :data:`~.hand_model.ANGLE_LIMITS_DEG`.
    """
    num = z.shape[0]
    angles = np.zeros((num, 5, 5))
    curl = (np.sqrt(GRIP_SHARE) * _latent(z, 'grip')
            + np.sqrt(1 - GRIP_SHARE) * _latent(z, 'curl'))
    pip = (PIP_FROM_CURL * curl
           + np.sqrt(1 - PIP_FROM_CURL**2) * _latent(z, 'pip'))
    dip = DIP_FROM_PIP * pip + np.sqrt(1 - DIP_FROM_PIP**2) * _latent(z, 'dip')
    flex_mean = np.asarray(prior.finger_flex_mean)
    flex_std = np.asarray(prior.finger_flex_std)
    for k, latent in enumerate((curl, pip, dip)):
        angles[:, 1:, 2 + k] = flex_mean[:, k] + flex_std[:, k] * latent
    angles[:, 1:, 0] = (np.asarray(prior.abduction_mean)
                        + prior.abduction_std * _latent(z, 'abduction'))

    thumb = _latent(z, 'thumb').copy()
    loadings = OPPOSITION_LOADINGS
    thumb[:, :3] = (loadings * _latent(z, 'opposition')
                    + np.sqrt(1 - loadings**2) * thumb[:, :3])
    angles[:, 0] = (np.asarray(prior.thumb_mean)
                    + np.asarray(prior.thumb_std) * thumb)
    angles = np.clip(angles, ANGLE_LIMITS_DEG[..., 0], ANGLE_LIMITS_DEG[..., 1])
    return np.deg2rad(angles)


__all__ = [
    'LATENT_SLICES', 'LATENT_DIM', 'PosePrior', 'latents_to_angles'
]
