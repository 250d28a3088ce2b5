"""Normalisation statistics of a train annotation file.

Computes the lifting codec's statistics (2D px mean/std per axis, wrist-
relative 3D m mean/std per axis, pooled over valid joints) and the per-joint
wrist-relative mm mean/std table (the layout of real_joint_stats_mm.json,
which ``Pose3DCodec(stats_file=...)`` reads).

    python tools/dataset_converters/compute_stats.py \
        data/synthetic_egoexo4d/annotations/ego_pose_gt_anno_train_public.json \
        --out data/synthetic_egoexo4d/joint_stats_mm.json

``--mirror-left`` gives the per-joint table of left hands mirrored to right
hands, for pipelines with ``MirrorLeftHand(enabled=True)`` (the official
table mixes both hands, whose mirror-axis coordinates cancel).
"""
import argparse
import json

import numpy as np

from hp3d.datasets.stats import (
    joint_stats_dict,
    load_joint_stats,
    mirror_joint_stats,
    normalisation_stats,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Lifting and per-joint normalisation statistics.')
    parser.add_argument('train_ann', help='ego_pose_gt_anno_train_public.json')
    parser.add_argument('--out', default=None,
                        help='write the statistics JSON here')
    parser.add_argument('--mirror-left', action='store_true',
                        help='per-joint statistics of left hands mirrored to '
                        'right hands (the Pose3DCodec table of pipelines '
                        'with MirrorLeftHand enabled)')
    parser.add_argument('--mirror-of', default=None, metavar='TABLE',
                        help='with --mirror-left: mirror this unmirrored '
                        'per-joint table instead, taking only the mirrored '
                        'means along the mirror axis from train_ann (how '
                        'hp3d derives its mirrored Ego-Exo4D table from the '
                        'official one and synthetic hands)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.mirror_of and not args.mirror_left:
        raise SystemExit('--mirror-of needs --mirror-left')
    stats = normalisation_stats(args.train_ann, args.mirror_left)
    if args.mirror_of:
        mean, std = mirror_joint_stats(*load_joint_stats(args.mirror_of),
                                       np.array(stats['joint_mean_mm']))
        stats.update(joint_stats_dict(
            mean, std, f'{args.mirror_of} with left hands mirrored (the '
            'mirror-axis means from ' + stats['source'] + '; stds from the '
            'unchanged second moments)'))
    lifting = stats['lifting']
    print(f"{stats['num_hands']} hands ({stats['num_rejected']} records "
          'rejected as by EgoExo4DHandDataset, left out)')
    print('LiftingCodec config (for a child of a lifting config):')
    print('codec = dict(\n    type=\'LiftingCodec\',')
    for key in ('input_mean_px', 'input_std_px', 'target_mean_m',
                'target_std_m'):
        digits = 3 if key.endswith('px') else 5
        values = ', '.join(f'{v:.{digits}f}' for v in lifting[key])
        print(f'    {key}=({values}),')
    print(')')
    # the base config filled its codec into the datasets and the head when
    # it was read: a child must set each (Hp3dRunner refuses a mismatch)
    for name in ('train', 'val', 'test'):
        print(f'{name}_dataloader = dict(dataset=dict(codec=codec))')
    print('model = dict(head=dict(codec=codec))')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(stats, f, indent=1)
        print(f'wrote {args.out} (Pose3DCodec stats_file layout)')


if __name__ == '__main__':
    main()
