"""Check a real Ego-Exo4D hand pose download and link it into data/egoexo4d.

Example::

    python tools/dataset_converters/egoexo4d.py \\
        --ann-dir /datasets/egoexo4d/hand_gt/annotation/manual \\
        --img-dir /datasets/egoexo4d/hand_gt/image/undistorted \\
        --camera-dir /datasets/egoexo4d/annotations/ego_pose/hand/camera_pose \\
        --out data/egoexo4d --report work_dirs/egoexo4d_check.json

Makes (symlinks, nothing is copied)::

    data/egoexo4d/annotations/ego_pose_gt_anno_{split}[_public].json
    data/egoexo4d/images -> IMG_DIR  ({split}/{take_name}/{frame:06d}.jpg)
    data/egoexo4d/camera_pose -> CAMERA_DIR  ({take_uid}.json, optional)

and reports, per annotation file, the hands (right/left, with 3D GT or
box-only), the frames whose image is missing and the records the dataset
rejects and why (the validation of ``EgoExo4DHandDataset``).
"""
import argparse
import os
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List, Optional, Sequence

from hp3d.datasets.annotation_checks import ANNOTATION_FILE_RE, MAX_FILE_MB
from hp3d.datasets.egoexo4d import EgoExo4DHandDataset
from hp3d.datasets.metainfo import MIN_VALID_JOINTS
from hp3d.datasets.synthetic.generate import ANNOTATION_DIR
from hp3d.evaluation.submission import write_json_atomic

# Examples of missing images / rejected records kept in the report.
NUM_EXAMPLES = 20


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--ann-dir', required=True,
        help='directory holding ego_pose_gt_anno_{split}[_public].json')
    parser.add_argument(
        '--img-dir', required=True,
        help='undistorted Aria frames: {split}/{take_name}/{frame:06d}.jpg')
    parser.add_argument(
        '--camera-dir',
        help='optional directory of per-take {take_uid}.json camera files')
    parser.add_argument('--out', default='data/egoexo4d',
                        help='where to link the data (default: %(default)s)')
    parser.add_argument('--report', help='also write the report as JSON here')
    parser.add_argument(
        '--min-valid-joints', type=int, default=MIN_VALID_JOINTS,
        help='reject GT hands with fewer valid joints (default: '
        '%(default)s, the official rule)')
    parser.add_argument(
        '--max-file-mb', type=float, default=MAX_FILE_MB,
        help='refuse larger annotation files (default: %(default)s MiB)')
    parser.add_argument(
        '--force', action='store_true',
        help='replace existing symlinks that point elsewhere')
    return parser.parse_args(argv)


def find_annotation_files(ann_dir: str) -> List[str]:
    """Official annotation files in ``ann_dir``, sorted by name."""
    if not osp.isdir(ann_dir):
        raise FileNotFoundError(f'--ann-dir {ann_dir}: not a directory')
    names = sorted(n for n in os.listdir(ann_dir)
                   if ANNOTATION_FILE_RE.match(n))
    if not names:
        raise FileNotFoundError(
            f'--ann-dir {ann_dir}: no ego_pose_gt_anno_{{split}}'
            '[_public].json file')
    return [osp.join(ann_dir, n) for n in names]


def link(target: str, link_path: str, force: bool) -> None:
    """Symlink ``link_path`` -> absolute ``target``; never replaces a real
    file or directory, and replaces another symlink only with ``force``."""
    target = osp.abspath(target)
    if osp.islink(link_path):
        if os.readlink(link_path) == target:
            return
        if not force:
            raise FileExistsError(
                f'{link_path} links to {os.readlink(link_path)}, not '
                f'{target}: pass --force to replace the link')
        os.remove(link_path)
    elif osp.exists(link_path):
        raise FileExistsError(f'{link_path} exists and is not a symlink; '
                              'move it away first')
    os.makedirs(osp.dirname(osp.abspath(link_path)), exist_ok=True)
    os.symlink(target, link_path)


def check_split(ann_file: str, out: str, with_camera: bool,
                min_valid_joints: int, max_file_mb: float) -> Dict:
    """Load one linked annotation file as the dataset does; count hands,
    missing images and rejected records."""
    dataset = EgoExo4DHandDataset(
        ann_file=osp.relpath(ann_file, out),
        data_root=out,
        data_prefix=dict(img='images',
                         camera='camera_pose' if with_camera else ''),
        min_valid_joints=min_valid_joints,
        max_file_mb=max_file_mb,
        serialize_data=False)
    arrays = dataset.get_arrays()
    img_paths = sorted({dataset.get_data_info(i)['img_path']
                        for i in range(len(dataset))})
    missing = [p for p in img_paths if not osp.isfile(p)]
    kinds = Counter(r['kind'] for r in dataset.rejections)
    return dict(
        ann_file=ann_file,
        split=dataset.split,
        hands=len(dataset),
        right=int((~arrays['is_left']).sum()),
        left=int(arrays['is_left'].sum()),
        with_3d_gt=int(arrays['has_gt'].sum()),
        box_only=int((~arrays['has_gt']).sum()),
        frames=len(img_paths),
        images_missing=len(missing),
        images_missing_examples=missing[:NUM_EXAMPLES],
        rejected=len(dataset.rejections),
        rejected_by_kind=dict(kinds.most_common()),
        rejected_examples=dataset.rejections[:NUM_EXAMPLES])


def format_report(report: Dict) -> str:
    lines = []
    for split in report['splits']:
        lines.append(
            f"{split['ann_file']} (split {split['split']}): "
            f"{split['hands']} hands ({split['right']} right, "
            f"{split['left']} left; {split['with_3d_gt']} with 3D GT, "
            f"{split['box_only']} box-only) in {split['frames']} frames")
        lines.append(f"  images missing: {split['images_missing']} of "
                     f"{split['frames']}")
        lines.extend(f'    {p}' for p in split['images_missing_examples'][:5])
        kinds = split['rejected_by_kind']
        lines.append(f"  records rejected: {split['rejected']}" +
                     (f' {kinds}' if kinds else ''))
        lines.extend(
            f"    take {r['take_uid']}, frame {r['frame']}, hand "
            f"{r['hand']}: {r['reason']}"
            for r in split['rejected_examples'][:5])
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    ann_files = find_annotation_files(args.ann_dir)
    if not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'--img-dir {args.img_dir}: not a directory')
    if args.camera_dir and not osp.isdir(args.camera_dir):
        raise FileNotFoundError(
            f'--camera-dir {args.camera_dir}: not a directory')

    linked = []
    for ann_file in ann_files:
        linked.append(
            osp.join(args.out, ANNOTATION_DIR, osp.basename(ann_file)))
        link(ann_file, linked[-1], args.force)
    link(args.img_dir, osp.join(args.out, 'images'), args.force)
    if args.camera_dir:
        link(args.camera_dir, osp.join(args.out, 'camera_pose'), args.force)

    report = dict(
        out=args.out,
        splits=[
            check_split(path, args.out, bool(args.camera_dir),
                        args.min_valid_joints, args.max_file_mb)
            for path in linked
        ])
    print(format_report(report))
    if args.report:
        write_json_atomic(report, args.report)
        print(f'report written to {args.report}')
    return report


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        sys.exit(f'error: {e}')
