"""Draw a 2D hand skeleton on an image with OpenCV."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from hp3d.datasets.metainfo import SKELETON, bone_colors, joint_colors

# Sub-pixel drawing: cv2 takes fixed-point coordinates with this many
# fractional bits, so a joint at 10.5 px is drawn at 10.5, not rounded.
_SHIFT_BITS = 4
_SCALE = 1 << _SHIFT_BITS


def _bgr(rgb: Sequence[int]) -> Tuple[int, int, int]:
    return int(rgb[2]), int(rgb[1]), int(rgb[0])


def draw_skeleton_2d(image: np.ndarray,
                     keypoints_px: np.ndarray,
                     valid: Optional[np.ndarray] = None,
                     color: Optional[Tuple[int, int, int]] = None,
                     radius: int = 3,
                     thickness: int = 2) -> np.ndarray:
    """Draw the 21-joint hand skeleton on a copy of a BGR image.

    Bones are drawn first, then joints on top, each in its finger's colour
    (``hp3d.datasets.metainfo.FINGER_COLORS``) unless ``color`` is given. A
    joint is skipped when it is flagged invalid or its coordinates are not
    finite; a bone is skipped when either end is skipped.

    Args:
        image (np.ndarray): (H, W, 3) uint8 BGR image; not modified.
        keypoints_px (np.ndarray): (K, 2) joint positions (x, y) in pixels.
        valid (np.ndarray, optional): (K,) bool, False for joints to skip.
            Defaults to all joints with finite coordinates.
        color (tuple[int, int, int], optional): one RGB colour for the whole
            skeleton (e.g. to tell a prediction from the ground truth).
            Defaults to per-finger colours.
        radius (int): joint radius in pixels. Defaults to 3.
        thickness (int): bone thickness in pixels. Defaults to 2.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image with the skeleton drawn.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('draw_skeleton_2d expects an (H, W, 3) uint8 BGR '
                         f'image, got {image.shape} {image.dtype}')
    keypoints_px = np.asarray(keypoints_px, dtype=np.float64)
    num_joints = len(joint_colors())
    if keypoints_px.shape != (num_joints, 2):
        raise ValueError(f'keypoints_px must be ({num_joints}, 2), '
                         f'got {keypoints_px.shape}')
    drawable = np.isfinite(keypoints_px).all(axis=1)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (num_joints, ):
            raise ValueError(f'valid must be ({num_joints},), '
                             f'got {valid.shape}')
        drawable &= valid

    canvas = np.ascontiguousarray(image).copy()
    points = np.zeros((num_joints, 2), dtype=np.int64)
    points[drawable] = np.round(keypoints_px[drawable] * _SCALE)
    joint_bgr = [_bgr(color or c) for c in joint_colors()]
    bone_bgr = [_bgr(color or c) for c in bone_colors()]

    for (parent, child), bgr in zip(SKELETON, bone_bgr):
        if drawable[parent] and drawable[child]:
            cv2.line(canvas, tuple(map(int, points[parent])),
                     tuple(map(int, points[child])), bgr, thickness,
                     cv2.LINE_AA, _SHIFT_BITS)
    for j in np.flatnonzero(drawable):
        cv2.circle(canvas, tuple(map(int, points[j])), radius * _SCALE,
                   joint_bgr[j], -1, cv2.LINE_AA, _SHIFT_BITS)
    return canvas


__all__ = ['draw_skeleton_2d']
