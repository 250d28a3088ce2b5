"""Export the hands of an official Ego-Exo4D annotation file as COCO keypoints.

Example::

    python tools/dataset_converters/egoexo4d_to_coco.py \\
        data/egoexo4d/annotations/ego_pose_gt_anno_val_public.json \\
        data/egoexo4d/annotations/coco_hand_val.json --img-prefix 'images/{split}'

The output loads with ``xtcocotools.coco.COCO`` and mmpose's COCO-style
datasets, and reads back with ``CocoHandDataset``.
"""
import argparse
import json
import os
import os.path as osp

from hp3d.datasets.coco_export import egoexo4d_to_coco
from hp3d.datasets.metainfo import MIN_VALID_JOINTS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_file', help='ego_pose_gt_anno_{split}[_public].json')
    parser.add_argument('out_json', help='COCO keypoint file to write')
    parser.add_argument(
        '--img-prefix', default='',
        help="prefix of the image file names, e.g. 'images/{split}' ({split} "
        'becomes the split); default: none')
    parser.add_argument(
        '--camera-dir', default='',
        help='directory of per-take camera_pose/{take_uid}.json files for the '
        "images' camera_intrinsics; default: the 512x512 f=150 px camera")
    parser.add_argument('--split', help='split, when the file name lacks it')
    parser.add_argument(
        '--min-valid-joints', type=int, default=MIN_VALID_JOINTS,
        help='drop annotated hands with fewer valid joints (default: '
        '%(default)s, the official rule)')
    parser.add_argument(
        '--strict', action='store_true',
        help='stop at the first bad record instead of skipping it')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    coco = egoexo4d_to_coco(
        args.ann_file,
        img_prefix=args.img_prefix,
        camera_dir=args.camera_dir,
        split=args.split,
        min_valid_joints=args.min_valid_joints,
        on_bad_record='error' if args.strict else 'skip')
    out_dir = osp.dirname(osp.abspath(args.out_json))
    os.makedirs(out_dir, exist_ok=True)
    # Strict JSON (no NaN tokens) so any COCO reader accepts the file.
    with open(args.out_json, 'w') as f:
        json.dump(coco, f, allow_nan=False)
    print(f'{args.out_json}: {len(coco["images"])} images, '
          f'{len(coco["annotations"])} hands')


if __name__ == '__main__':
    main()
