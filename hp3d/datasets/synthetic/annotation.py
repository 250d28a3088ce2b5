"""Official-format annotations of synthetic hands: flags, boxes, frame dicts.

The rules are the Ego-Exo4D ones: invalid joints are NaN (the wrist keeps its
3D), a hand with fewer than ``MIN_VALID_JOINTS`` valid joints is dropped,
train/val boxes are the valid keypoints' extent +-20 px and test boxes the
randomised x1.5 box of the official data preparation, both clipped to the
image.

Note:
    Shape symbols: ``N`` hands, ``K`` = 21 joints.
"""
from typing import Dict, Optional

import numpy as np

from ..camera import IMAGE_SIZE_PX
from ..metainfo import MIN_VALID_JOINTS, WRIST
from .hand_pose import intrinsics_for, pose_hands
from .pose_prior import LATENT_DIM, PosePrior, sample_shapes
from .visibility import joint_validity

# Official box rules.
TRAIN_BOX_PADDING_PX = 20.0
TEST_BOX_EXPANSION = 1.5
TEST_BOX_SIZE_JITTER = (0.9, 1.1)
TEST_BOX_SHIFT = 0.1
# Written precision: micrometres for 3D, 1e-4 px for 2D, 1e-3 px for boxes
# (far below any error that matters, and half the file size of full floats).
DECIMALS_3D_M = 6
DECIMALS_2D_PX = 4
DECIMALS_BOX_PX = 3
HAND_FIELDS = ('3d', '2d', 'bbox', 'valid_3d')


def _extent(keypoints_2d: np.ndarray, valid: np.ndarray) -> np.ndarray:
    points = np.where(valid[..., None], keypoints_2d, np.nan)
    return np.concatenate([np.nanmin(points, -2), np.nanmax(points, -2)], -1)


def padded_keypoint_boxes(keypoints_2d: np.ndarray, valid: np.ndarray,
                          image_size: int,
                          padding: float = TRAIN_BOX_PADDING_PX) -> np.ndarray:
    """Train/val boxes: valid keypoints' extent +- ``padding``, clipped.

    Args:
        keypoints_2d (np.ndarray): (N, K, 2) px.
        valid (np.ndarray): (N, K) bool, at least one per hand.
        image_size (int): image side (px).
        padding (float): margin (px).

    Returns:
        np.ndarray: (N, 4) xyxy boxes within [0, image_size - 1].
    """
    box = _extent(keypoints_2d, valid) + np.array(
        [-padding, -padding, padding, padding])
    return np.clip(box, 0, image_size - 1)


def random_test_boxes(rng: np.random.Generator, keypoints_2d: np.ndarray,
                      valid: np.ndarray, image_size: int) -> np.ndarray:
    """Test boxes of the official data preparation.

    The keypoint box expanded x1.5, each side's length scaled by U(0.9, 1.1)
    and its centre shifted by U(-0.1, 0.1) of the expanded length, clipped.

    Args:
        rng (np.random.Generator): random source.
        keypoints_2d (np.ndarray): (N, K, 2) px.
        valid (np.ndarray): (N, K) bool, at least one per hand.
        image_size (int): image side (px).

    Returns:
        np.ndarray: (N, 4) xyxy boxes within [0, image_size - 1].
    """
    extent = _extent(keypoints_2d, valid)
    center = (extent[:, :2] + extent[:, 2:]) / 2
    size = (extent[:, 2:] - extent[:, :2]) * TEST_BOX_EXPANSION
    jitter = rng.uniform(*TEST_BOX_SIZE_JITTER, size=size.shape)
    shift = rng.uniform(-TEST_BOX_SHIFT, TEST_BOX_SHIFT, size=size.shape)
    center = center + shift * size
    half = size * jitter / 2
    return np.clip(np.concatenate([center - half, center + half], -1), 0,
                   image_size - 1)


def mask_invalid(keypoints_3d: np.ndarray, keypoints_2d: np.ndarray,
                 valid: np.ndarray):
    """NaN out invalid joints (the wrist keeps its 3D).

    Args:
        keypoints_3d (np.ndarray): (N, K, 3).
        keypoints_2d (np.ndarray): (N, K, 2).
        valid (np.ndarray): (N, K) bool.

    Returns:
        tuple: masked copies of ``keypoints_3d`` and ``keypoints_2d``.
    """
    keep_3d = valid.copy()
    keep_3d[:, WRIST] = True
    return (np.where(keep_3d[..., None], keypoints_3d, np.nan),
            np.where(valid[..., None], keypoints_2d, np.nan))


def hand_fields(hand: str, keypoints_3d_m: Optional[np.ndarray] = None,
                keypoints_2d_px: Optional[np.ndarray] = None,
                bbox_px: Optional[np.ndarray] = None,
                valid: Optional[np.ndarray] = None) -> Dict[str, list]:
    """The four ``{hand}_hand_*`` fields of a frame, JSON-ready.

    Args:
        hand (str): ``'right'`` or ``'left'``.
        keypoints_3d_m (np.ndarray, optional): (K, 3) with NaN for invalid
            joints. None for a hand that is not annotated (all fields ``[]``).
        keypoints_2d_px (np.ndarray, optional): (K, 2), NaN for invalid.
        bbox_px (np.ndarray, optional): (4,) xyxy.
        valid (np.ndarray, optional): (K,) bool.

    Returns:
        dict: ``{hand}_hand_3d``, ``_2d``, ``_bbox``, ``_valid_3d``.
    """
    if keypoints_3d_m is None:
        return {f'{hand}_hand_{name}': [] for name in HAND_FIELDS}
    return {
        f'{hand}_hand_3d': np.round(keypoints_3d_m, DECIMALS_3D_M).tolist(),
        f'{hand}_hand_2d': np.round(keypoints_2d_px, DECIMALS_2D_PX).tolist(),
        f'{hand}_hand_bbox': np.round(bbox_px, DECIMALS_BOX_PX).tolist(),
        f'{hand}_hand_valid_3d': [bool(v) for v in valid],
    }


def sample_annotated_hands(rng: np.random.Generator,
                           num: int,
                           prior: Optional[PosePrior] = None,
                           image_size: int = IMAGE_SIZE_PX,
                           left_fraction: Optional[float] = None
                           ) -> Dict[str, np.ndarray]:
    """I.i.d. annotated hands from the pose prior, without images.

    The same pose -> camera -> validity path as the generator, with
    independent latents (the generator's marginal distribution), for
    calibration and statistics checks.

    Args:
        rng (np.random.Generator): random source.
        num (int): hands to draw (those with too few valid joints are then
            dropped, like the generator does).
        prior (PosePrior, optional): defaults to ``PosePrior()``.
        image_size (int): image side (px).
        left_fraction (float, optional): probability of a left hand;
            default ``1 - prior.right_share``.

    Returns:
        dict: ``keypoints_3d`` (N, K, 3) m and ``keypoints_2d`` (N, K, 2) px
        masked like the files, ``valid`` (N, K), ``is_left`` (N,).
    """
    prior = PosePrior() if prior is None else prior
    cam_K = intrinsics_for(image_size)
    shapes = sample_shapes(rng, num, prior)
    z = rng.standard_normal((num, LATENT_DIM))
    if left_fraction is None:
        left_fraction = 1 - prior.right_share
    is_left = rng.random(num) < left_fraction
    hands = pose_hands(shapes, z, is_left, prior, cam_K, image_size)
    keypoints_2d, valid = joint_validity(hands, cam_K, image_size)
    keep = valid.sum(1) >= MIN_VALID_JOINTS
    kp3d, kp2d = mask_invalid(hands.joints_m[keep], keypoints_2d[keep],
                              valid[keep])
    return dict(keypoints_3d=kp3d, keypoints_2d=kp2d, valid=valid[keep],
                is_left=is_left[keep])


__all__ = [
    'TRAIN_BOX_PADDING_PX', 'padded_keypoint_boxes', 'random_test_boxes',
    'mask_invalid', 'hand_fields', 'sample_annotated_hands'
]
