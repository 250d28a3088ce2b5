"""MPJPE of the mean-pose baseline: every hand predicted as the train mean.

The floor any learned model must clear. It goes through the same metric as
``tools/test.py``, so the numbers compare directly.

Usage:
    python tools/analysis_tools/mean_pose_baseline.py TRAIN_ANN TEST_ANN
"""
import argparse
import json

from hp3d.datasets import EgoExo4DHandDataset
from hp3d.evaluation.baselines import evaluate_mean_pose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('train_ann', help='train annotation file (mean pose)')
    parser.add_argument('test_ann', help='annotation file to evaluate on')
    parser.add_argument('--json', help='also write the metrics here')
    args = parser.parse_args()
    no_images = dict(img='')
    train = EgoExo4DHandDataset(args.train_ann, data_prefix=no_images)
    test = EgoExo4DHandDataset(args.test_ann, data_prefix=no_images,
                               test_mode=True)
    metrics = evaluate_mean_pose(train.get_arrays(), test.get_arrays())
    print(f'mean-pose baseline on {args.test_ann}: '
          f'MPJPE {metrics["MPJPE"]:.2f} mm, '
          f'PA-MPJPE {metrics["PA-MPJPE"]:.2f} mm')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(metrics, f, indent=1)


if __name__ == '__main__':
    main()
