"""Statistics of Ego-Exo4D hand annotations (official file format).

Reads any official annotation file (ground truth or box-only) into flat
per-hand arrays and computes what the models normalise with and what the
synthetic generator is calibrated against:

- per-joint wrist-relative 3D mean/std in mm (the layout of
  ``real_joint_stats_mm.json``, used by ``Pose3DCodec``), over valid joints;
- lifting normalisation: 2D pixel mean/std per axis and wrist-relative 3D
  metre mean/std per axis, pooled over the valid joints of all hands;
- box sizes and centres per hand side.

Note:
    Shape symbols: ``N`` hands, ``K`` = 21 joints.
"""
import math
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from .annotation_checks import (
    ON_BAD_RECORD,
    Rejection,
    iter_hand_records,
    read_json,
)
from .metainfo import MIN_VALID_JOINTS, MIRROR_AXIS, NUM_JOINTS, WRIST

# Thresholds of the synthetic data's statistics check: per-joint mean within
# this many mm, std within this relative error of the reference.
MEAN_TOL_MM = 10.0
STD_REL_TOL = 0.25


def load_hand_annotations(ann_file: str,
                          min_valid_joints: int = MIN_VALID_JOINTS,
                          on_bad_record: str = 'skip') -> Dict[str, object]:
    """One row per hand that :class:`EgoExo4DHandDataset` loads from an
    official annotation file: the same parser, checks and rejections, so the
    statistics describe what a model trains on.

    Ground-truth files give every field (NaN where a joint is not valid,
    except the wrist's 3D); box-only files (the public test file) give NaN
    keypoints and all-False flags.

    Args:
        ann_file (str): ``ego_pose_gt_anno_{split}_public.json`` (or an older
            file with ``{hand}_hand_valid`` flags).
        min_valid_joints (int): Reject GT hands with fewer valid joints, as
            the dataset does. Defaults to ``MIN_VALID_JOINTS``.
        on_bad_record (str): ``'skip'`` leaves rejected records out (listed in
            ``rejections``); ``'error'`` raises on the first one, naming file,
            take, frame and hand. Defaults to ``'skip'``.

    Returns:
        dict: ``keypoints_3d`` (N, K, 3) m, ``keypoints_2d`` (N, K, 2) px,
        ``valid`` (N, K) bool, ``bbox`` (N, 4) xyxy px, ``is_left`` (N,)
        bool, ``has_gt`` (N,) bool, ``take_uid`` (N,) str, ``frame_number``
        (N,) int, and ``rejections``: a list of dicts (take_uid, frame,
        hand, kind, reason).
    """
    if on_bad_record not in ON_BAD_RECORD:
        raise ValueError(f'on_bad_record must be one of {ON_BAD_RECORD}, '
                         f'got {on_bad_record!r}')
    records, rejections = [], []
    for item in iter_hand_records(read_json(ann_file), min_valid_joints,
                                  ann_file):
        if isinstance(item, Rejection):
            if on_bad_record == 'error':
                raise ValueError(item.message(ann_file))
            rejections.append(item.to_dict())
        else:
            records.append(item)
    return dict(
        keypoints_3d=np.array([r.keypoints_3d for r in records],
                              np.float64).reshape(-1, NUM_JOINTS, 3),
        keypoints_2d=np.array([r.keypoints_2d for r in records],
                              np.float64).reshape(-1, NUM_JOINTS, 2),
        valid=np.array([r.keypoints_valid for r in records],
                       bool).reshape(-1, NUM_JOINTS),
        bbox=np.array([r.bbox for r in records], np.float64).reshape(-1, 4),
        is_left=np.array([r.hand == 'left' for r in records], bool),
        has_gt=np.array([r.has_gt for r in records], bool),
        take_uid=np.array([r.take_uid for r in records], str),
        frame_number=np.array([r.frame_number for r in records], int),
        rejections=rejections)


def wrist_relative_mm(keypoints_3d: np.ndarray,
                      valid: np.ndarray) -> np.ndarray:
    """(N, K, 3) joints minus the wrist, mm; NaN where a joint is invalid.

    The wrist's 3D is used whatever its flag (the files keep it); the wrist
    row itself is 0.
    """
    rel = (keypoints_3d - keypoints_3d[:, WRIST:WRIST + 1]) * 1000.0
    rel = np.where(valid[..., None], rel, np.nan)
    rel[:, WRIST] = 0.0
    return rel


def joint_stats_mm(keypoints_3d: np.ndarray, valid: np.ndarray,
                   mirror: Optional[np.ndarray] = None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-joint wrist-relative mean and std (population) in mm.

    Args:
        keypoints_3d (np.ndarray): (N, K, 3) camera-frame joints, metres.
        valid (np.ndarray): (N, K) joint flags.
        mirror (np.ndarray, optional): (N,) bool, hands to mirror across
            ``MIRROR_AXIS`` first, as ``MirrorLeftHand`` does to left hands
            (``is_left``): the statistics of what such a pipeline encodes.

    Returns:
        tuple: mean (K, 3) and std (K, 3) in mm over the valid joints of
        each joint (wrist: 0 and 0).
    """
    rel = wrist_relative_mm(keypoints_3d, valid)
    if mirror is not None:
        rel[np.asarray(mirror, dtype=bool), :, MIRROR_AXIS] *= -1
    if not np.all(np.any(~np.isnan(rel[..., 0]), axis=0)):
        missing = np.flatnonzero(~np.any(~np.isnan(rel[..., 0]), axis=0))
        raise ValueError(f'no valid sample for joints {missing.tolist()}')
    return np.nanmean(rel, axis=0), np.nanstd(rel, axis=0)


def mirror_joint_stats(mean_mm: np.ndarray, std_mm: np.ndarray,
                       mirrored_mean_mm: np.ndarray
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """The table of a both-hands set after mirroring its left hands, from
    its unmirrored table and the mirrored means.

    Mirroring negates one coordinate (``MIRROR_AXIS``) of some hands: the
    other coordinates and every second moment stay, so only the mean along
    the axis is new, and its std follows from the unchanged second moment:
    ``std' = sqrt(std^2 + mean^2 - mean'^2)``.

    Args:
        mean_mm (np.ndarray): (K, 3) unmirrored means.
        std_mm (np.ndarray): (K, 3) unmirrored stds.
        mirrored_mean_mm (np.ndarray): (K, 3) means with the left hands
            mirrored (only the ``MIRROR_AXIS`` column is used).

    Returns:
        tuple: mean (K, 3) and std (K, 3) in mm.

    Raises:
        ValueError: A mirrored mean beyond the second moment (no data has
            it).
    """
    mean, std = np.array(mean_mm, np.float64), np.array(std_mm, np.float64)
    new_mean = np.asarray(mirrored_mean_mm, np.float64)[:, MIRROR_AXIS]
    var = std[:, MIRROR_AXIS]**2 + mean[:, MIRROR_AXIS]**2 - new_mean**2
    if (var < -1e-9).any():
        raise ValueError('mirrored means beyond the second moment for joints '
                         f'{np.flatnonzero(var < -1e-9).tolist()}')
    mean[:, MIRROR_AXIS] = new_mean
    std[:, MIRROR_AXIS] = np.sqrt(np.clip(var, 0, None))
    return mean, std


def lifting_stats(keypoints_2d: np.ndarray, keypoints_3d: np.ndarray,
                  valid: np.ndarray) -> Dict[str, List[float]]:
    """Normalisation statistics of the lifting codec, pooled over joints.

    Args:
        keypoints_2d (np.ndarray): (N, K, 2) px.
        keypoints_3d (np.ndarray): (N, K, 3) camera-frame joints, metres.
        valid (np.ndarray): (N, K) joint flags.

    Returns:
        dict: ``input_mean_px``, ``input_std_px`` (2D of the valid joints, per
        axis) and ``target_mean_m``, ``target_std_m`` (wrist-relative 3D of
        the valid joints, the wrist's zeros included, per axis). A valid
        wrist may lack its 2D (the files allow it): 2D pools finite joints.
    """
    kp2d = keypoints_2d[valid & np.isfinite(keypoints_2d).all(-1)]
    rel_m = wrist_relative_mm(keypoints_3d, valid)[valid] / 1000.0
    return dict(input_mean_px=kp2d.mean(0).tolist(),
                input_std_px=kp2d.std(0).tolist(),
                target_mean_m=rel_m.mean(0).tolist(),
                target_std_m=rel_m.std(0).tolist())


def box_stats(bbox: np.ndarray, is_left: np.ndarray) -> Dict[str, Dict]:
    """Box size and centre statistics per hand side and overall.

    Args:
        bbox (np.ndarray): (N, 4) xyxy px, NaN rows ignored.
        is_left (np.ndarray): (N,) bool.

    Returns:
        dict: for ``right``, ``left``, ``all``: ``count``, ``size_mean``,
        ``size_std``, ``size_median`` (w, h px), ``center_mean``,
        ``center_std`` (u, v px).
    """
    out = {}
    present = ~np.isnan(bbox).any(axis=1)
    for name, mask in (('right', ~is_left), ('left', is_left),
                       ('all', np.ones_like(is_left))):
        b = bbox[mask & present]
        size, center = b[:, 2:] - b[:, :2], (b[:, 2:] + b[:, :2]) / 2
        empty = [math.nan, math.nan]
        out[name] = dict(
            count=int(len(b)),
            size_mean=size.mean(0).tolist() if len(b) else empty,
            size_std=size.std(0).tolist() if len(b) else empty,
            size_median=np.median(size, 0).tolist() if len(b) else empty,
            center_mean=center.mean(0).tolist() if len(b) else empty,
            center_std=center.std(0).tolist() if len(b) else empty)
    return out


def compare_joint_stats(mean_mm: np.ndarray, std_mm: np.ndarray,
                        ref_mean_mm: np.ndarray, ref_std_mm: np.ndarray,
                        mean_tol_mm: float = MEAN_TOL_MM,
                        std_rel_tol: float = STD_REL_TOL) -> Dict:
    """Compare per-joint statistics with a reference table.

    Args:
        mean_mm (np.ndarray): (K, 3) means.
        std_mm (np.ndarray): (K, 3) stds.
        ref_mean_mm (np.ndarray): (K, 3) reference means.
        ref_std_mm (np.ndarray): (K, 3) reference stds (wrist 0).
        mean_tol_mm (float): allowed absolute mean difference.
        std_rel_tol (float): allowed relative std difference.

    Returns:
        dict: ``mean_delta_mm`` (K, 3), ``std_ratio`` (K, 3) (1 where both
        stds are 0), ``passed`` (K, 3) bool, ``all_passed`` bool,
        ``worst_mean_delta_mm`` and ``worst_std_ratio`` (the ratio furthest
        from 1).
    """
    delta = np.asarray(mean_mm) - np.asarray(ref_mean_mm)
    std_mm, ref_std_mm = np.asarray(std_mm), np.asarray(ref_std_mm)
    both_zero = (std_mm == 0) & (ref_std_mm == 0)
    ratio = np.where(both_zero, 1.0,
                     std_mm / np.where(ref_std_mm == 0, np.nan, ref_std_mm))
    passed = (np.abs(delta) <= mean_tol_mm) & (np.abs(ratio - 1)
                                                <= std_rel_tol)
    flat = np.nan_to_num(np.abs(ratio - 1), nan=np.inf).ravel()
    return dict(mean_delta_mm=delta, std_ratio=ratio, passed=passed,
                all_passed=bool(passed.all()),
                worst_mean_delta_mm=float(np.abs(delta).max()),
                worst_std_ratio=float(ratio.ravel()[np.argmax(flat)]))


def load_joint_stats(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read a per-joint statistics table (``real_joint_stats_mm.json``
    layout: ``joint_mean_mm`` and ``joint_std_mm``, each K x 3).

    Args:
        path (str): The JSON file; a relative path is resolved against the
            current directory.

    Returns:
        tuple: mean (K, 3) and std (K, 3) in mm, float64.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The table is malformed.
    """
    resolved = os.path.abspath(path)
    if not os.path.isfile(resolved):
        raise FileNotFoundError(
            f'Joint statistics file {path!r} not found (resolved to '
            f'{resolved} from {os.getcwd()}).')
    data = read_json(resolved)
    if not isinstance(data, dict):
        raise ValueError(f'{resolved}: expected an object with '
                         'joint_mean_mm and joint_std_mm')
    try:
        mean = np.asarray(data['joint_mean_mm'], dtype=np.float64)
        std = np.asarray(data['joint_std_mm'], dtype=np.float64)
    except KeyError as err:
        raise ValueError(f'{resolved}: missing {err}') from None
    if mean.shape != (NUM_JOINTS, 3) or std.shape != (NUM_JOINTS, 3):
        raise ValueError(f'{resolved}: expected ({NUM_JOINTS}, 3) tables, '
                         f'got {mean.shape} and {std.shape}')
    return mean, std


def joint_stats_dict(mean_mm: np.ndarray, std_mm: np.ndarray,
                     source: str) -> Dict:
    """The ``real_joint_stats_mm.json`` layout: source, mean and std."""
    return dict(source=source, joint_mean_mm=np.asarray(mean_mm).tolist(),
                joint_std_mm=np.asarray(std_mm).tolist())


def normalisation_stats(ann_file: str, mirror_left: bool = False) -> Dict:
    """Normalisation statistics of the GT hands of a (train) file.

    Args:
        ann_file (str): official annotation file with 3D ground truth.
        mirror_left (bool): Per-joint statistics of left hands mirrored to
            right hands (for pipelines with ``MirrorLeftHand(enabled=True)``);
            the lifting statistics are unaffected. Defaults to False.

    Returns:
        dict: the ``real_joint_stats_mm.json`` layout (``source``,
        ``joint_mean_mm``, ``joint_std_mm``) plus ``lifting``
        (:func:`lifting_stats`), ``num_hands`` and ``num_rejected`` (records
        the dataset rejects too, left out).
    """
    hands = load_hand_annotations(ann_file)
    gt = hands['has_gt']
    if not gt.any():
        raise ValueError(f'{ann_file}: no hand with 3D ground truth (a '
                         'box-only file?)')
    kp3d, kp2d = hands['keypoints_3d'][gt], hands['keypoints_2d'][gt]
    valid = hands['valid'][gt]
    mean, std = joint_stats_mm(
        kp3d, valid, hands['is_left'][gt] if mirror_left else None)
    mirrored = ', left hands mirrored' if mirror_left else ''
    out = joint_stats_dict(
        mean, std, f'{ann_file}: {int(gt.sum())} hands{mirrored}, '
        'wrist-relative camera coordinates, millimetres')
    out.update(lifting=lifting_stats(kp2d, kp3d, valid),
               num_hands=int(gt.sum()),
               num_rejected=len(hands['rejections']))
    return out


def annotation_stats(ann_file: str,
                     ref_stats_file: Optional[str] = None) -> Dict:
    """Every statistic of one annotation file (what the report prints).

    Args:
        ann_file (str): official annotation file.
        ref_stats_file (str, optional): reference per-joint table to compare
            with.

    Returns:
        dict: ``num_hands``, ``num_gt_hands``, ``num_rejected`` (records
        left out, as the dataset does), ``valid_fraction``,
        ``box`` (:func:`box_stats`), and for GT files ``joint_mean_mm``,
        ``joint_std_mm``, ``lifting`` (:func:`lifting_stats`) and, with a
        reference, ``comparison`` (:func:`compare_joint_stats`).
    """
    hands = load_hand_annotations(ann_file)
    gt = hands['has_gt']
    out = dict(num_hands=int(len(gt)), num_gt_hands=int(gt.sum()),
               num_rejected=len(hands['rejections']),
               box=box_stats(hands['bbox'], hands['is_left']))
    if gt.any():
        kp3d, kp2d = hands['keypoints_3d'][gt], hands['keypoints_2d'][gt]
        valid = hands['valid'][gt]
        mean, std = joint_stats_mm(kp3d, valid)
        out.update(valid_fraction=float(valid.mean()), joint_mean_mm=mean,
                   joint_std_mm=std,
                   lifting=lifting_stats(kp2d, kp3d, valid))
        if ref_stats_file is not None:
            ref_mean, ref_std = load_joint_stats(ref_stats_file)
            out['comparison'] = compare_joint_stats(mean, std, ref_mean,
                                                    ref_std)
    return out


__all__ = [
    'MEAN_TOL_MM', 'STD_REL_TOL', 'load_hand_annotations',
    'wrist_relative_mm', 'joint_stats_mm', 'mirror_joint_stats',
    'lifting_stats', 'box_stats',
    'compare_joint_stats', 'load_joint_stats', 'joint_stats_dict',
    'normalisation_stats', 'annotation_stats'
]
