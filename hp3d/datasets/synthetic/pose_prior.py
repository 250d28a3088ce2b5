"""The distribution of egocentric hand poses, calibrated to Ego-Exo4D.

A hand's pose is a deterministic function of a standard-normal latent vector
(:data:`LATENT_DIM` numbers): global orientation, image position and depth,
finger curls and thumb angles. Sampling latents i.i.d. gives the marginal pose
distribution (used to calibrate and test the statistics); sampling them as
smooth random processes (:mod:`.motion`) gives video-like takes with the same
marginals.

The default :class:`PosePrior` was fitted (by
``tools/dataset_converters/calibrate_synthetic_prior.py``) so that the
wrist-relative per-joint mean/std of the generated annotations match the
official train split's (``real_joint_stats_mm.json``) and the hands' image
positions and box sizes match the public test file. Both hands share the
prior: a left hand is a mirrored right hand (camera ``y -> -y``), placed with
its own image-position distribution.

Note:
    Shape symbols: ``N`` hands, ``F`` = 5 fingers.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from .hand_model import ANGLE_LIMITS_DEG, HandShape, sample_hand_shapes

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
        wrist_offset_mm (tuple): shift of the finger bases relative to the
            annotated wrist.
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
        right_share (float): share of right hands among the annotated ones.
    """

    orientation_rotvec: Tuple[float, ...] = (1.6803, -1.6765, -0.6009)
    orientation_scale_tril: Tuple[Tuple[float, ...], ...] = (
        (0.2596, 0.0, 0.0),
        (-0.1208, 0.4624, 0.0),
        (-0.0199, -0.0492, 0.215))
    finger_flex_mean: Tuple[Tuple[float, ...], ...] = (
        (33.95, 42.23, -0.7),
        (37.54, 54.88, -4.99),
        (42.05, 57.71, -0.73),
        (55.87, 32.16, 3.32))
    finger_flex_std: Tuple[Tuple[float, ...], ...] = (
        (8.0, 36.0, 36.0),
        (29.74, 27.66, 35.29),
        (27.76, 35.98, 36.0),
        (27.44, 35.99, 35.99))
    abduction_mean: Tuple[float, ...] = (5.67, 8.0, 3.93, -1.24)
    abduction_std: float = 3.0
    thumb_mean: Tuple[float, ...] = (4.99, -9.99, 8.51, 20.83, 0.02)
    thumb_std: Tuple[float, ...] = (4.0, 4.2, 4.0, 4.01, 4.0)
    thumb_base_mm: Tuple[float, ...] = (-34.14, 22.76, -6.72)
    wrist_offset_mm: Tuple[float, ...] = (-9.52, -0.48, -9.51)
    palm_scale: float = 1.0799
    palm_width_scale: float = 1.2999
    finger_length_scale: float = 0.9381
    thumb_length_scale: float = 0.9
    right_center_px: Tuple[float, ...] = (348.1, 171.1)
    left_center_px: Tuple[float, ...] = (352.4, 284.9)
    center_std_px: Tuple[float, ...] = (39.7, 35.1)
    depth_median_m: float = 0.3847
    depth_log_std: float = 0.1732
    right_share: float = 0.5187


def _latent(z: np.ndarray, name: str) -> np.ndarray:
    start, stop = LATENT_SLICES[name]
    return z[..., start:stop]


def sample_shapes(rng: np.random.Generator, num: int,
                  prior: PosePrior) -> HandShape:
    """``num`` subject hand shapes with the prior's skeleton proportions."""
    return sample_hand_shapes(rng, num, prior.palm_scale,
                              prior.palm_width_scale,
                              prior.finger_length_scale,
                              prior.thumb_length_scale, prior.thumb_base_mm,
                              prior.wrist_offset_mm)


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
    'LATENT_SLICES', 'LATENT_DIM', 'PosePrior', 'sample_shapes',
    'latents_to_angles'
]
