"""Reference predictors every learned model must beat."""
from typing import Dict

import numpy as np

from hp3d.datasets.metainfo import WRIST

from .metrics import EgoExo4DHandMetric


def mean_pose_mm(arrays: Dict[str, np.ndarray]) -> np.ndarray:
    """Per-joint mean of the wrist-relative GT over valid joints.

    Args:
        arrays (dict): ``EgoExo4DHandDataset.get_arrays()`` of a train split.

    Returns:
        np.ndarray: (K, 3) mean wrist-relative pose in mm.
    """
    root = arrays['keypoints_3d'][:, WRIST:WRIST + 1]
    rel_mm = (arrays['keypoints_3d'] - root) * 1000.0
    valid = arrays['keypoints_valid'][..., None] & np.isfinite(rel_mm)
    return np.where(valid, rel_mm, 0).sum(0) / np.maximum(valid.sum(0), 1)


def evaluate_mean_pose(train_arrays: Dict[str, np.ndarray],
                       test_arrays: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Official metrics of predicting the train mean pose for every test hand.

    Args:
        train_arrays (dict): ``get_arrays()`` of the train split.
        test_arrays (dict): ``get_arrays()`` of the evaluated split.

    Returns:
        dict: :class:`EgoExo4DHandMetric`'s metrics (unprefixed).
    """
    mean_mm = mean_pose_mm(train_arrays)
    metric = EgoExo4DHandMetric()
    metric.process(None, [
        dict(sample_idx=i, take_uid=test_arrays['take_uid'][i],
             frame_number=int(test_arrays['frame_number'][i]),
             hand=test_arrays['hand'][i], has_gt=bool(test_arrays['has_gt'][i]),
             pred_mm=mean_mm, gt_m=test_arrays['keypoints_3d'][i],
             valid=test_arrays['keypoints_valid'][i])
        for i in range(len(test_arrays['hand']))
    ])
    return metric.compute_metrics(metric.results)


__all__ = ['mean_pose_mm', 'evaluate_mean_pose']
