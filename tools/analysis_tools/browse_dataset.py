"""Write dataset samples as figures, to check data and augmentations by eye.

Each figure shows the sample's 2D skeleton on its image and its 3D skeleton
(``Hand3DVisualizer``):

- ``--mode transformed`` (default): the sample after the split's pipeline,
  as the model gets it: the crop (with its augmentations) and the 3D target
  keypoints; lifting samples, which have no image, on a blank frame region.
- ``--mode original``: the annotation before the pipeline: the full frame
  (when its image exists) with the annotated 2D joints.

Files: ``{out_dir}/{index:05d}_{take_uid}_{frame:06d}_{hand}.png``.

Examples::

    python tools/analysis_tools/browse_dataset.py CONFIG --split train -n 16 \\
        --out-dir work_dirs/browse
    python tools/analysis_tools/browse_dataset.py CONFIG --mode original
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

from hp3d.registry import DATASETS
from hp3d.visualization import Hand3DVisualizer, sample_image, slice_sample

SPLITS = ('train', 'val', 'test')
MODES = ('transformed', 'original')
# The full frame is its own "crop": pixels map to themselves.
IDENTITY_WARP = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)


def build_dataset(cfg: Config, split: str):
    """The dataset of ``{split}_dataloader``, built in the config's scope."""
    loader = cfg.get(f'{split}_dataloader')
    if loader is None:
        raise KeyError(f'{cfg.filename} has no {split}_dataloader')
    init_default_scope(cfg.get('default_scope', 'hp3d'))
    return DATASETS.build(loader.dataset)


def annotation_dataset(dataset):
    """The dataset holding the annotations (``get_data_info``): the dataset
    itself, or the one it wraps (e.g. ``LiftingTensorDataset.dataset``)."""
    while not hasattr(dataset, 'get_data_info'):
        if not hasattr(dataset, 'dataset'):
            raise TypeError(f'{type(dataset).__name__} has no annotations to '
                            'browse (no get_data_info, wraps no dataset)')
        dataset = dataset.dataset
    return dataset


def transformed_sample(dataset, index: int
                       ) -> Optional[Tuple[Optional[np.ndarray], Dict]]:
    """``(image or None, data_sample)`` of sample ``index`` after the
    pipeline, through ``default_collate`` as a loader would batch it."""
    packed = dataset[index]
    if packed is None:  # a pipeline that skips bad samples
        return None
    batch = default_collate([packed])
    return (sample_image(batch['inputs'], 0),
            slice_sample(batch['data_samples'], 0))


def original_sample(dataset, index: int) -> Tuple[Optional[np.ndarray], Dict]:
    """``(frame or None, data_sample)`` of annotation ``index``."""
    info = dict(annotation_dataset(dataset).get_data_info(index))
    img_path = info.get('img_path', '')
    image = cv2.imread(img_path) if img_path and osp.isfile(img_path) else None
    if image is not None:
        info.update(warp_mat=IDENTITY_WARP,
                    keypoints_2d_crop=info['keypoints_2d'])
    return image, info


def sample_indices(num_samples: int, count: int, shuffle: bool,
                   seed: int) -> List[int]:
    """``count`` indices: the first ones, or a seeded random choice."""
    count = min(count, num_samples)
    if not shuffle:
        return list(range(count))
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(num_samples, size=count, replace=False).tolist())


def browse(cfg: Config, split: str, count: int, out_dir: str,
           mode: str = 'transformed', shuffle: bool = False,
           seed: int = 0) -> List[str]:
    """Write ``count`` samples of ``split`` as PNGs; return their paths."""
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    dataset = build_dataset(cfg, split)
    num_samples = (len(dataset) if mode == 'transformed' else
                   len(annotation_dataset(dataset)))
    if num_samples == 0:
        raise ValueError(f'The {split} dataset of {cfg.filename} is empty')
    # The config's figure settings, without its backends (TensorBoard...).
    vis_cfg = dict(cfg.get('visualizer', {}), vis_backends=None,
                   name='browse_dataset')
    vis_cfg.pop('type', None)
    visualizer = Hand3DVisualizer(**vis_cfg)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for index in sample_indices(num_samples, count, shuffle, seed):
        drawn = (transformed_sample(dataset, index) if mode == 'transformed'
                 else original_sample(dataset, index))
        if drawn is None:
            print(f'sample {index}: skipped by the pipeline')
            continue
        image, sample = drawn
        name = '{:05d}_{}_{:06d}_{}'.format(index, sample['take_uid'],
                                            int(sample['frame_number']),
                                            sample['hand'])
        out_file = osp.join(out_dir, f'{name}.png')
        visualizer.add_datasample(name, image, sample, out_file=out_file)
        written.append(out_file)
    return written


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write dataset samples as figures')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', choices=SPLITS, default='train')
    parser.add_argument('-n', '--num-samples', type=int, default=8,
                        help='samples to write')
    parser.add_argument('--out-dir', default='work_dirs/browse_dataset',
                        help='directory of the PNGs')
    parser.add_argument('--mode', choices=MODES, default='transformed',
                        help='after the pipeline, or the raw annotation')
    parser.add_argument('--shuffle', action='store_true',
                        help='a random choice of samples instead of the '
                        'first ones')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of --shuffle and of the augmentations')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. data_root=data/x/')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # Random augmentations draw from numpy's global generator.
    np.random.seed(args.seed)
    written = browse(cfg, args.split, args.num_samples, args.out_dir,
                     args.mode, args.shuffle, args.seed)
    print(f'{len(written)} figures written to {args.out_dir}')
    return written


if __name__ == '__main__':
    main()
