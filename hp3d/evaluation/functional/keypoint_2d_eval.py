"""2D keypoint evaluation math: projection, PCK, EPE and COCO OKS AP.

Note:
    N: hands, K: joints (21).
"""
import contextlib
import io
from typing import Dict, List, Optional, Sequence

import numpy as np

from hp3d.datasets.coco_export import (
    HAND_CATEGORY_ID,
    LABELLED,
    bbox_xyxy_to_xywh,
    hand_category,
)
from hp3d.datasets.metainfo import NUM_JOINTS

# Per-joint OKS sigmas of COCO-WholeBody's hand (mmpose's coco_wholebody_hand
# metainfo), in the same wrist/thumb..pinky base-to-tip order as hp3d.
COCO_WHOLEBODY_HAND_SIGMAS = np.array([
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018,
    0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.020, 0.019, 0.022,
    0.031
])
# Smallest depth a projected point may have: a badly predicted joint behind
# the camera then lands far off the image (a miss) instead of dividing by ~0.
MIN_DEPTH_M = 1e-3


def project_root_relative(pred_mm: np.ndarray, root_m: np.ndarray,
                          cam_K: np.ndarray) -> np.ndarray:
    """Project root-relative 3D joints placed at a known root.

    Args:
        pred_mm (np.ndarray): (N, K, 3) root-relative joints in mm.
        root_m (np.ndarray): (N, 3) camera-frame root (wrist) in metres.
        cam_K (np.ndarray): (N, 3, 3) or (3, 3) intrinsics.

    Returns:
        np.ndarray: (N, K, 2) pixel coordinates, float64.
    """
    points_m = (np.asarray(pred_mm, dtype=np.float64) / 1000.0 +
                np.asarray(root_m, dtype=np.float64)[:, None])
    cam_K = np.broadcast_to(np.asarray(cam_K, dtype=np.float64),
                            (len(points_m), 3, 3))
    points_m[..., 2] = np.maximum(points_m[..., 2], MIN_DEPTH_M)
    uvw = np.einsum('nij,nkj->nki', cam_K, points_m)
    return uvw[..., :2] / uvw[..., 2:3]


def keypoint_epe(pred_px: np.ndarray, gt_px: np.ndarray,
                 mask: np.ndarray) -> float:
    """End-point error: mean pixel distance over the masked joints.

    Args:
        pred_px (np.ndarray): (N, K, 2) predicted pixels.
        gt_px (np.ndarray): (N, K, 2) ground-truth pixels.
        mask (np.ndarray): (N, K) bool, joints to evaluate.

    Returns:
        float: EPE in px (NaN when ``mask`` selects nothing).
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return float('nan')
    dist = np.linalg.norm(np.asarray(pred_px, np.float64) -
                          np.asarray(gt_px, np.float64), axis=-1)
    return float(dist[mask].mean())


def keypoint_pck(pred_px: np.ndarray, gt_px: np.ndarray, mask: np.ndarray,
                 thr: float, norm_px: np.ndarray) -> float:
    """Percentage of correct keypoints, averaged over joints (mmpose's PCK).

    A joint is correct when its error is at most ``thr * norm_px`` of its
    hand; each joint's accuracy is taken over the hands where it is masked
    in, then averaged over the joints that are masked in at least once.

    Args:
        pred_px (np.ndarray): (N, K, 2) predicted pixels.
        gt_px (np.ndarray): (N, K, 2) ground-truth pixels.
        mask (np.ndarray): (N, K) bool, joints to evaluate.
        thr (float): Threshold as a fraction of ``norm_px``.
        norm_px (np.ndarray): (N,) per-hand normaliser in px (box size).

    Returns:
        float: PCK in [0, 1] (NaN when ``mask`` selects nothing).
    """
    mask = np.asarray(mask, dtype=bool)
    norm_px = np.asarray(norm_px, dtype=np.float64)
    if np.any(norm_px[mask.any(axis=1)] <= 0):
        raise ValueError('keypoint_pck: every evaluated hand needs a '
                         'positive normaliser (box size)')
    if not mask.any():
        return float('nan')
    dist = np.linalg.norm(np.asarray(pred_px, np.float64) -
                          np.asarray(gt_px, np.float64), axis=-1)
    correct = dist <= thr * norm_px[:, None]
    counts = mask.sum(axis=0)
    joints = counts > 0
    per_joint = (correct & mask).sum(axis=0)[joints] / counts[joints]
    return float(per_joint.mean())


def build_coco_gt(gt_px: np.ndarray, visible: np.ndarray,
                  bbox_xyxy: np.ndarray) -> Dict[str, list]:
    """A COCO keypoint ground-truth dict, one image and one hand per row.

    Image and annotation ids are ``1..N`` (COCOeval treats id 0 as
    "unmatched"), hidden joints are written as ``0, 0, 0``.

    Args:
        gt_px (np.ndarray): (N, K, 2) ground-truth pixels.
        visible (np.ndarray): (N, K) bool, labelled joints.
        bbox_xyxy (np.ndarray): (N, 4) hand boxes in px; their area is the
            OKS scale.

    Returns:
        dict: ``images``, ``annotations``, ``categories``.
    """
    keypoints = _coco_keypoints(gt_px, visible, flag=LABELLED)
    bbox_xywh = bbox_xyxy_to_xywh(bbox_xyxy)
    visible = np.asarray(visible, dtype=bool)
    images, annotations = [], []
    for i, (kpts, box) in enumerate(zip(keypoints, bbox_xywh), start=1):
        images.append(dict(id=i, file_name=f'{i:06d}.jpg'))
        annotations.append(dict(
            id=i, image_id=i, category_id=HAND_CATEGORY_ID, iscrowd=0,
            keypoints=kpts, num_keypoints=int(visible[i - 1].sum()),
            bbox=[float(v) for v in box], area=float(box[2] * box[3])))
    return dict(images=images, annotations=annotations,
                categories=[hand_category()])


def build_coco_dt(pred_px: np.ndarray,
                  scores: Optional[Sequence[float]] = None) -> List[dict]:
    """COCO keypoint results matching :func:`build_coco_gt` (image id i+1).

    Args:
        pred_px (np.ndarray): (N, K, 2) predicted pixels.
        scores (Sequence[float], optional): (N,) hand scores; 1 by default.

    Returns:
        list[dict]: one result per hand (every joint flagged predicted).
    """
    pred_px = np.asarray(pred_px)
    scores = np.ones(len(pred_px)) if scores is None else scores
    keypoints = _coco_keypoints(pred_px, np.ones(pred_px.shape[:2], bool),
                                flag=1)
    return [dict(image_id=i, category_id=HAND_CATEGORY_ID, keypoints=kpts,
                 score=float(score))
            for i, (kpts, score) in enumerate(zip(keypoints, scores), start=1)]


def coco_keypoint_ap(coco_gt: Dict[str, list], coco_dt: List[dict],
                     sigmas: Sequence[float] = COCO_WHOLEBODY_HAND_SIGMAS,
                     use_area: bool = True) -> Dict[str, float]:
    """OKS average precision with xtcocotools' ``COCOeval``.

    Args:
        coco_gt (dict): Ground truth (see :func:`build_coco_gt`).
        coco_dt (list[dict]): Results (see :func:`build_coco_dt`).
        sigmas (Sequence[float]): (K,) per-joint OKS sigmas.
        use_area (bool): Scale OKS by the annotations' ``area``.

    Returns:
        dict: ``AP``, ``AP50``, ``AP75``, ``AR``, ``AR50``, ``AR75`` in [0, 1].
    """
    # xtcocotools is the optional ``coco`` extra: only this function needs it.
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.shape != (NUM_JOINTS, ):
        raise ValueError(f'sigmas must have {NUM_JOINTS} values, got '
                         f'shape {sigmas.shape}')
    # COCO and COCOeval print progress; keep the caller's log clean.
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = coco_gt
        gt.createIndex()
        # loadRes fills ids/areas into the results: give it copies.
        dt = gt.loadRes([dict(result) for result in coco_dt])
        coco_eval = COCOeval(gt, dt, 'keypoints', sigmas, use_area=use_area)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    names = ('AP', 'AP50', 'AP75', 'AP_M', 'AP_L', 'AR', 'AR50', 'AR75')
    stats = dict(zip(names, (float(s) for s in coco_eval.stats)))
    return {name: stats[name]
            for name in ('AP', 'AP50', 'AP75', 'AR', 'AR50', 'AR75')}


def _coco_keypoints(points_px: np.ndarray, visible: np.ndarray,
                    flag: int) -> List[List[float]]:
    """(N, K, 2) points as COCO's flat ``[x, y, v] * K`` lists (0s if hidden)."""
    points_px = np.asarray(points_px, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    if points_px.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f'expected (N, {NUM_JOINTS}, 2) keypoints, got '
                         f'{points_px.shape}')
    xyv = np.zeros(points_px.shape[:2] + (3, ))
    xyv[..., :2] = np.where(visible[..., None], points_px, 0.0)
    xyv[..., 2] = np.where(visible, flag, 0)
    return [[float(v) for v in row] for row in xyv.reshape(len(xyv), -1)]


__all__ = [
    'COCO_WHOLEBODY_HAND_SIGMAS', 'project_root_relative', 'keypoint_epe',
    'keypoint_pck', 'build_coco_gt', 'build_coco_dt',
    'coco_keypoint_ap'
]
