"""Describe an official-format Ego-Exo4D hand annotation file.

Prints the per-joint wrist-relative 3D mean/std (mm) next to a reference
table (pass/fail against the synthetic data's 10 mm / 25 % thresholds), the
2D keypoint mean/std and the box sizes, optionally next to a reference box
file (e.g. the public test file). Works on real downloads and synthetic sets.

    python tools/dataset_converters/joint_stats_report.py \
        data/synthetic_egoexo4d/annotations/ego_pose_gt_anno_train_public.json \
        --real-stats tests/data/egoexo4d_public/real_joint_stats_mm.json \
        --boxes-ref tests/data/egoexo4d_public/ego_pose_gt_anno_test_public.json
"""
import argparse
import json
from typing import Dict, List, Optional

import numpy as np

from hp3d.datasets.camera import IMAGE_SIZE_PX
from hp3d.datasets.metainfo import JOINT_NAMES
from hp3d.datasets.stats import (
    MEAN_TOL_MM,
    STD_REL_TOL,
    annotation_stats,
    load_joint_stats,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Per-joint, 2D and box statistics of an annotation file.')
    parser.add_argument('ann_file', help='ego_pose_gt_anno_*.json')
    parser.add_argument('--real-stats', default=None,
                        help='reference per-joint table '
                        '(real_joint_stats_mm.json layout)')
    parser.add_argument('--boxes-ref', default=None,
                        help='reference annotation file for box statistics')
    parser.add_argument('--json', default=None, help='write all numbers here')
    return parser.parse_args()


def _fmt(values, width: int = 6, digits: int = 1) -> str:
    return ' '.join(f'{v:{width}.{digits}f}' for v in values)


def joint_table(stats: Dict, ref_mean: Optional[np.ndarray],
                ref_std: Optional[np.ndarray]) -> List[str]:
    """Lines of the per-joint table (mm)."""
    mean, std = stats['joint_mean_mm'], stats['joint_std_mm']
    if ref_mean is None:
        lines = [f"{'joint':<9} {'mean x y z':>20}   {'std x y z':>20}"]
        for j, name in enumerate(JOINT_NAMES):
            lines.append(f'{name:<9} {_fmt(mean[j])}   {_fmt(std[j])}')
        return lines
    comp = stats['comparison']
    lines = [f"{'joint':<9} {'ref mean x y z':>20} | {'mean x y z':>20} | "
             f"{'delta x y z':>20} | {'ref std x y z':>20} | "
             f"{'std x y z':>20} | {'ratio x y z':>17} | ok"]
    for j, name in enumerate(JOINT_NAMES):
        ok = 'PASS' if comp['passed'][j].all() else 'FAIL'
        lines.append(
            f'{name:<9} {_fmt(ref_mean[j])} | {_fmt(mean[j])} | '
            f"{_fmt(comp['mean_delta_mm'][j])} | {_fmt(ref_std[j])} | "
            f"{_fmt(std[j])} | {_fmt(comp['std_ratio'][j], 5, 2)} | {ok}")
    lines.append(
        f"worst |mean delta| {comp['worst_mean_delta_mm']:.1f} mm "
        f'(limit {MEAN_TOL_MM:g}), worst std ratio '
        f"{comp['worst_std_ratio']:.3f} (limit 1 +- {STD_REL_TOL:g}): "
        f"{'all joints PASS' if comp['all_passed'] else 'FAIL'}")
    return lines


def box_table(name: str, box: Dict) -> List[str]:
    lines = []
    for hand in ('right', 'left', 'all'):
        b = box[hand]
        lines.append(
            f"{name:<10} {hand:<5} n={b['count']:<6} size mean "
            f"{_fmt(b['size_mean'])} std {_fmt(b['size_std'])} median "
            f"{_fmt(b['size_median'])} | centre mean {_fmt(b['center_mean'])}"
            f" std {_fmt(b['center_std'])}")
    return lines


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.bool_, np.floating, np.integer)):
        return value.item()
    return value


def main() -> None:
    args = parse_args()
    stats = annotation_stats(args.ann_file, args.real_stats)
    print(f"{args.ann_file}: {stats['num_hands']} hands, "
          f"{stats['num_gt_hands']} with 3D ground truth, "
          f"{stats['num_rejected']} records rejected (left out)")
    if stats['num_gt_hands']:
        ref_mean = ref_std = None
        if args.real_stats:
            ref_mean, ref_std = load_joint_stats(args.real_stats)
        print(f"valid joints: {100 * stats['valid_fraction']:.1f} %")
        print('\nwrist-relative 3D per joint (mm, camera frame)'
              + (f' vs {args.real_stats}' if args.real_stats else ''))
        print('\n'.join(joint_table(stats, ref_mean, ref_std)))
        lifting = stats['lifting']
        # The portrait view rotates the native frame: u' = W - 1 - v, v' = u.
        mean, std = lifting['input_mean_px'], lifting['input_std_px']
        portrait = [IMAGE_SIZE_PX - 1 - mean[1], mean[0]]
        print('\n2D keypoints (px, native view): mean '
              f'{_fmt(mean)} std {_fmt(std)}; in the portrait view: mean '
              f'{_fmt(portrait)} std {_fmt(std[::-1])}')
        print('wrist-relative 3D pooled (m): mean '
              f"{_fmt(lifting['target_mean_m'], 8, 4)} std "
              f"{_fmt(lifting['target_std_m'], 8, 4)}")
    print('\nboxes (px)')
    print('\n'.join(box_table('this file', stats['box'])))
    if args.boxes_ref:
        ref_box = annotation_stats(args.boxes_ref)['box']
        stats['boxes_ref'] = ref_box
        print('\n'.join(box_table('reference', ref_box)))
        ratio = (np.array(stats['box']['all']['size_mean'])
                 / np.array(ref_box['all']['size_mean']))
        print(f'mean box size ratio (w, h) this / reference: {_fmt(ratio, 5, 2)}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(_jsonable(stats), f, indent=1)
        print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
