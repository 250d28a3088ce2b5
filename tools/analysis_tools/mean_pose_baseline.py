"""MPJPE of the mean-pose baseline: every hand predicted as the train mean.

The floor any learned model must clear. It goes through the same metric as
``tools/test.py``, so the numbers compare directly.

Usage:
    python tools/analysis_tools/mean_pose_baseline.py TRAIN_ANN TEST_ANN
"""
import argparse
import json

import numpy as np

from hp3d.datasets import EgoExo4DHandDataset
from hp3d.datasets.metainfo import WRIST
from hp3d.evaluation import EgoExo4DHandMetric


def mean_pose_mm(arrays: dict) -> np.ndarray:
    """(K, 3) per-joint mean of the wrist-relative GT in mm over valid joints."""
    rel_mm = (arrays['keypoints_3d'] - arrays['keypoints_3d'][:, WRIST:WRIST + 1]
              ) * 1000.0
    valid = arrays['keypoints_valid'][..., None] & np.isfinite(rel_mm)
    return np.where(valid, rel_mm, 0).sum(0) / np.maximum(valid.sum(0), 1)


def evaluate_mean_pose(train_ann: str, test_ann: str) -> dict:
    """Metrics of predicting the train mean pose for every test hand."""
    train = EgoExo4DHandDataset(train_ann, data_prefix=dict(img=''))
    test = EgoExo4DHandDataset(test_ann, data_prefix=dict(img=''),
                               test_mode=True)
    mean_mm = mean_pose_mm(train.get_arrays())
    arrays = test.get_arrays()
    metric = EgoExo4DHandMetric()
    metric.process(None, [
        dict(sample_idx=i, take_uid=arrays['take_uid'][i],
             frame_number=int(arrays['frame_number'][i]),
             hand=arrays['hand'][i], has_gt=bool(arrays['has_gt'][i]),
             pred_mm=mean_mm, gt_m=arrays['keypoints_3d'][i],
             valid=arrays['keypoints_valid'][i]) for i in range(len(test))
    ])
    return metric.compute_metrics(metric.results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('train_ann', help='train annotation file (mean pose)')
    parser.add_argument('test_ann', help='annotation file to evaluate on')
    parser.add_argument('--json', help='also write the metrics here')
    args = parser.parse_args()
    metrics = evaluate_mean_pose(args.train_ann, args.test_ann)
    print(f'mean-pose baseline on {args.test_ann}: '
          f'MPJPE {metrics["MPJPE"]:.2f} mm, '
          f'PA-MPJPE {metrics["PA-MPJPE"]:.2f} mm')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(metrics, f, indent=1)


if __name__ == '__main__':
    main()
