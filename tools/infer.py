"""3D hand pose for images, a folder, or an official annotation file.

Writes the official predictions file (``{take_uid: {frame_str:
{"left_hand_3d": [] | 21x3, "right_hand_3d": ...}}}``, metres) through
``EgoExo4DHandMetric``: wrist-relative joints, or camera coordinates (the
prediction placed at the GT wrist) for hands with ground truth, whose
MPJPE / PA-MPJPE are then printed too. Images without a take id use their
file stem as ``take_uid`` and frame ``0``.

Examples:
    # boxes.json: {"000123.jpg": [{"bbox": [x1, y1, x2, y2], "hand": "left"}]}
    python tools/infer.py configs/potter_egoexo.py ckpt.pth frames/ \
        --boxes boxes.json --out-dir out --vis
    # the official test file (boxes only); images in IMG_ROOT/test/{take}/
    python tools/infer.py configs/potter_egoexo.py ckpt.pth IMG_ROOT \
        --ann-file ego_pose_gt_anno_test_public.json --out preds.json
    # lifting: 2D keypoints from an annotation file with 2D
    python tools/infer.py configs/pose_transformer_egoexo.py ckpt.pth '' \
        --ann-file ego_pose_gt_anno_val_public.json --out preds.json
"""
import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from hp3d.apis import Hand3DInferencer, ImageInferencer, LiftingInferencer
from hp3d.datasets import EgoExo4DHandDataset
from hp3d.datasets.annotation_checks import read_json
from hp3d.evaluation.metrics import EgoExo4DHandMetric
from hp3d.evaluation.submission import check_coverage, expected_hands


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Predict 3D hands and write the official predictions '
        'file')
    parser.add_argument('model', help='config file or model-index name')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument(
        'input', help='an image or a folder of images (with --boxes), or '
        'the image root of --ann-file ({input}/{split}/{take_name}/'
        '{frame:06d}.jpg; unused by lifting models)')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        '--boxes', help='JSON {image file name: [{"bbox": [x1, y1, x2, y2], '
        '"hand": "left" | "right"}, ...]}, names relative to the input '
        'folder (or the image\'s own folder)')
    source.add_argument('--ann-file',
                        help='official annotation file (GT or box-only)')
    parser.add_argument('--camera-dir', default='',
                        help='with --ann-file: folder of per-take camera '
                        'files ({take_uid}.json); takes without one use the '
                        'default Aria intrinsics')
    parser.add_argument('--out', help='predictions JSON; defaults to '
                        '{out-dir}/predictions.json')
    parser.add_argument('--out-dir', help='output folder')
    parser.add_argument('--vis', action='store_true',
                        help='draw every hand into {out-dir}/vis/')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=32)
    args = parser.parse_args(argv)
    if args.camera_dir and args.ann_file is None:
        parser.error('--camera-dir goes with --ann-file')
    if args.out is None and args.out_dir is None:
        parser.error('give --out or --out-dir')
    if args.vis and args.out_dir is None:
        parser.error('--vis needs --out-dir')
    return args


def read_boxes(boxes_file: str, image_dir: Path) -> Dict[str, list]:
    """``--boxes`` as {image path: [(bbox, hand), ...]}, checked.

    Args:
        boxes_file (str): The boxes JSON.
        image_dir (Path): Folder the image names are relative to.

    Returns:
        dict: Image paths (sorted by name) to their boxes and hands.
    """
    entries = read_json(boxes_file)
    if not isinstance(entries, dict) or not entries:
        raise ValueError(f'{boxes_file}: expected a non-empty object '
                         '{image file name: [boxes]}')
    images = {}
    stems = Counter(Path(name).stem for name in entries)
    shared = sorted(name for name in entries if stems[Path(name).stem] > 1)
    if shared:
        # an image's file stem is its take id in the predictions file
        raise ValueError(f'{boxes_file}: images {shared} share a file name '
                         'stem, which names the take in the predictions: '
                         'give each image a unique name')
    for name in sorted(entries):
        path = image_dir / name
        if not path.is_file():
            raise FileNotFoundError(f'{boxes_file}: image {name!r} not found '
                                    f'in {image_dir}')
        hands = entries[name]
        if not isinstance(hands, list) or not all(
                isinstance(h, dict) and {'bbox', 'hand'} <= set(h)
                for h in hands):
            raise ValueError(f'{boxes_file}: {name!r} must map to a list of '
                             '{"bbox": [x1, y1, x2, y2], "hand": ...}')
        repeated = [h for h, n in Counter(h['hand'] for h in hands).items()
                    if n > 1]
        if repeated:
            raise ValueError(
                f'{boxes_file}: {name!r} has several {repeated} hands; the '
                'official format holds one left and one right hand a frame')
        images[str(path)] = [(h['bbox'], h['hand']) for h in hands]
    return images


def build_samples(inferencer: Hand3DInferencer,
                  args: argparse.Namespace):
    """The hands to predict: the annotation file's, or the boxes'."""
    pipeline = inferencer.inferencer
    if args.ann_file is not None:
        # Every annotated hand needs a prediction, so none is dropped for
        # having few valid joints.
        dataset = EgoExo4DHandDataset(
            ann_file=args.ann_file,
            data_prefix=dict(img=args.input, camera=args.camera_dir),
            min_valid_joints=0,
            test_mode=True)
        keys = [(info['take_uid'], str(info['frame_number']), info['hand'])
                for info in map(dataset.get_data_info, range(len(dataset)))]
        check_coverage(keys, expected_hands(args.ann_file), args.ann_file)
        if isinstance(pipeline, LiftingInferencer):
            no_2d = ~np.isfinite(dataset.get_arrays()['keypoints_2d']).all(
                axis=-1).any(axis=-1)
            if no_2d.any():
                raise ValueError(
                    f'{args.ann_file}: {int(no_2d.sum())} of {len(dataset)} '
                    'hands have no 2D keypoint to lift (a box-only file?)')
        return dataset
    if not isinstance(pipeline, ImageInferencer):
        raise ValueError(f'{type(pipeline.model).__name__} lifts 2D '
                         'keypoints: give --ann-file with 2D annotations')
    input_path = Path(args.input)
    image_dir = input_path if input_path.is_dir() else input_path.parent
    images = read_boxes(args.boxes, image_dir)
    if not input_path.is_dir():
        images = {path: boxes for path, boxes in images.items()
                  if Path(path) == input_path}
        if not images:
            raise ValueError(f'{args.boxes}: no boxes for {input_path.name}')
    return pipeline.build_samples(
        list(images), [[b for b, _ in boxes] for boxes in images.values()],
        [[h for _, h in boxes] for boxes in images.values()])


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    out_file = args.out or str(Path(args.out_dir) / 'predictions.json')
    vis_dir = Path(args.out_dir) / 'vis' if args.vis else None
    if vis_dir is not None:
        vis_dir.mkdir(parents=True, exist_ok=True)

    inferencer = Hand3DInferencer(args.model, args.checkpoint, args.device)
    samples = build_samples(inferencer, args)
    metric = EgoExo4DHandMetric(submission_file=out_file,
                                ann_file=args.ann_file)
    pipeline = inferencer.inferencer
    batches = pipeline.run(samples, args.batch_size, out_dir=vis_dir)
    for preds, _ in tqdm(batches, desc='hands',
                         total=pipeline.num_batches(samples, args.batch_size),
                         unit='batch'):
        metric.process(None, preds)
    metrics: Dict[str, float] = metric.evaluate(len(samples))
    summary: List[str] = [f'{len(samples)} hands -> {out_file}']
    # 'egoexo4d/MPJPE' etc.; the per-joint 'egoexo4d/MPJPE/{joint}' are left
    # to the log of a full evaluation (tools/test.py)
    summary += [f'{name}: {value:.2f}' for name, value in metrics.items()
                if name.count('/') == 1]
    print_log('\n'.join(summary), logger='current')
    return 0


if __name__ == '__main__':
    sys.exit(main())
