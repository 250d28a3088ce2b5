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
import json
import math
from typing import Dict, List, Optional, Tuple

import numpy as np

from .metainfo import HANDS, NUM_JOINTS, WRIST

# Thresholds of the synthetic data's statistics check: per-joint mean within
# this many mm, std within this relative error of the reference.
MEAN_TOL_MM = 10.0
STD_REL_TOL = 0.25


def _as_array(value: list, shape: Tuple[int, ...], where: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f'{where}: expected shape {shape}, got {array.shape}')
    return array


def load_hand_annotations(ann_file: str) -> Dict[str, np.ndarray]:
    """One row per annotated hand of an official annotation file.

    Ground-truth files give every field; box-only files (the public test file)
    give NaN keypoints and all-False flags. A hand counts when its box (or, in
    GT files, its 3D) is non-empty.

    Args:
        ann_file (str): ``ego_pose_gt_anno_{split}_public.json`` (or an older
            file with ``{hand}_hand_valid`` flags).

    Returns:
        dict: ``keypoints_3d`` (N, K, 3) m, ``keypoints_2d`` (N, K, 2) px,
        ``valid`` (N, K) bool, ``bbox`` (N, 4) xyxy px (NaN when absent),
        ``is_left`` (N,) bool, ``has_gt`` (N,) bool, ``take_uid`` (N,) str,
        ``frame_number`` (N,) int.
    """
    with open(ann_file) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f'{ann_file}: top level must be {{take_uid: ...}}')
    rows: Dict[str, List] = {k: [] for k in (
        'keypoints_3d', 'keypoints_2d', 'valid', 'bbox', 'is_left', 'has_gt',
        'take_uid', 'frame_number')}
    nan3 = np.full((NUM_JOINTS, 3), np.nan)
    nan2 = np.full((NUM_JOINTS, 2), np.nan)
    for take_uid, frames in data.items():
        for frame_key, frame in frames.items():
            where = f'{ann_file}: take {take_uid} frame {frame_key}'
            if 'metadata' not in frame:
                raise ValueError(f'{where}: no metadata')
            for hand in HANDS:
                kp3d = frame.get(f'{hand}_hand_3d', [])
                box = frame.get(f'{hand}_hand_bbox', [])
                if not kp3d and not box:
                    continue
                has_gt = bool(kp3d)
                if has_gt:
                    flags = frame.get(f'{hand}_hand_valid_3d',
                                      frame.get(f'{hand}_hand_valid'))
                    if flags is None:
                        raise ValueError(f'{where}: {hand} hand has 3D but no '
                                         'valid flags')
                    kp2d = frame.get(f'{hand}_hand_2d') or nan2
                    rows['keypoints_3d'].append(_as_array(
                        kp3d, (NUM_JOINTS, 3), f'{where} {hand}_hand_3d'))
                    rows['keypoints_2d'].append(_as_array(
                        kp2d, (NUM_JOINTS, 2), f'{where} {hand}_hand_2d'))
                    rows['valid'].append(_as_array(
                        flags, (NUM_JOINTS, ), f'{where} valid flags') > 0)
                else:
                    rows['keypoints_3d'].append(nan3)
                    rows['keypoints_2d'].append(nan2)
                    rows['valid'].append(np.zeros(NUM_JOINTS, dtype=bool))
                rows['bbox'].append(
                    _as_array(box, (4, ), f'{where} {hand}_hand_bbox')
                    if box else np.full(4, np.nan))
                rows['is_left'].append(hand == 'left')
                rows['has_gt'].append(has_gt)
                rows['take_uid'].append(take_uid)
                rows['frame_number'].append(int(frame['metadata'].get(
                    'frame_number', frame_key)))
    if not rows['is_left']:
        return dict(
            keypoints_3d=np.zeros((0, NUM_JOINTS, 3)),
            keypoints_2d=np.zeros((0, NUM_JOINTS, 2)),
            valid=np.zeros((0, NUM_JOINTS), dtype=bool),
            bbox=np.zeros((0, 4)), is_left=np.zeros(0, dtype=bool),
            has_gt=np.zeros(0, dtype=bool), take_uid=np.zeros(0, dtype=str),
            frame_number=np.zeros(0, dtype=int))
    out = {k: np.stack(v) if k in ('keypoints_3d', 'keypoints_2d', 'valid',
                                   'bbox') else np.asarray(v)
           for k, v in rows.items()}
    return out


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


def joint_stats_mm(keypoints_3d: np.ndarray,
                   valid: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-joint wrist-relative mean and std (population) in mm.

    Args:
        keypoints_3d (np.ndarray): (N, K, 3) camera-frame joints, metres.
        valid (np.ndarray): (N, K) joint flags.

    Returns:
        tuple: mean (K, 3) and std (K, 3) in mm over the valid joints of
        each joint (wrist: 0 and 0).
    """
    rel = wrist_relative_mm(keypoints_3d, valid)
    if not np.all(np.any(~np.isnan(rel[..., 0]), axis=0)):
        missing = np.flatnonzero(~np.any(~np.isnan(rel[..., 0]), axis=0))
        raise ValueError(f'no valid sample for joints {missing.tolist()}')
    return np.nanmean(rel, axis=0), np.nanstd(rel, axis=0)


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
        the valid joints, the wrist's zeros included, per axis).
    """
    kp2d = keypoints_2d[valid]
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
    """Read a ``real_joint_stats_mm.json``-layout file: (K, 3) mean, std."""
    with open(path) as f:
        data = json.load(f)
    try:
        mean = np.asarray(data['joint_mean_mm'], dtype=np.float64)
        std = np.asarray(data['joint_std_mm'], dtype=np.float64)
    except KeyError as err:
        raise ValueError(f'{path}: missing {err}') from err
    if mean.shape != (NUM_JOINTS, 3) or std.shape != (NUM_JOINTS, 3):
        raise ValueError(f'{path}: expected ({NUM_JOINTS}, 3) tables, got '
                         f'{mean.shape} and {std.shape}')
    return mean, std


def joint_stats_dict(mean_mm: np.ndarray, std_mm: np.ndarray,
                     source: str) -> Dict:
    """The ``real_joint_stats_mm.json`` layout: source, mean and std."""
    return dict(source=source, joint_mean_mm=np.asarray(mean_mm).tolist(),
                joint_std_mm=np.asarray(std_mm).tolist())


def normalisation_stats(ann_file: str) -> Dict:
    """Normalisation statistics of the GT hands of a (train) file.

    Args:
        ann_file (str): official annotation file with 3D ground truth.

    Returns:
        dict: the ``real_joint_stats_mm.json`` layout (``source``,
        ``joint_mean_mm``, ``joint_std_mm``) plus ``lifting``
        (:func:`lifting_stats`) and ``num_hands``.
    """
    hands = load_hand_annotations(ann_file)
    gt = hands['has_gt']
    if not gt.any():
        raise ValueError(f'{ann_file}: no hand with 3D ground truth (a '
                         'box-only file?)')
    kp3d, kp2d = hands['keypoints_3d'][gt], hands['keypoints_2d'][gt]
    valid = hands['valid'][gt]
    mean, std = joint_stats_mm(kp3d, valid)
    out = joint_stats_dict(
        mean, std, f'{ann_file}: {int(gt.sum())} hands, wrist-relative '
        'camera coordinates, millimetres')
    out.update(lifting=lifting_stats(kp2d, kp3d, valid),
               num_hands=int(gt.sum()))
    return out


def annotation_stats(ann_file: str,
                     ref_stats_file: Optional[str] = None) -> Dict:
    """Every statistic of one annotation file (what the report prints).

    Args:
        ann_file (str): official annotation file.
        ref_stats_file (str, optional): reference per-joint table to compare
            with.

    Returns:
        dict: ``num_hands``, ``num_gt_hands``, ``valid_fraction``,
        ``box`` (:func:`box_stats`), and for GT files ``joint_mean_mm``,
        ``joint_std_mm``, ``lifting`` (:func:`lifting_stats`) and, with a
        reference, ``comparison`` (:func:`compare_joint_stats`).
    """
    hands = load_hand_annotations(ann_file)
    gt = hands['has_gt']
    out = dict(num_hands=int(len(gt)), num_gt_hands=int(gt.sum()),
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
    'wrist_relative_mm', 'joint_stats_mm', 'lifting_stats', 'box_stats',
    'compare_joint_stats', 'load_joint_stats', 'joint_stats_dict',
    'normalisation_stats', 'annotation_stats'
]
