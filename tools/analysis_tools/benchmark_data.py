"""Images/s of one data worker for the image pipeline, variants side by side.

Every variant runs in this one process, pinned to one thread (cv2, torch,
OpenMP), over the same JPEG frames and hand boxes, so the numbers compare
directly and read as "per worker" (a loader with N workers on N free cores
scales about linearly: decoding is independent per sample). Throughput is
counted in this process's CPU time, what a pass costs one core even on a
shared machine; wall-clock throughput is reported beside it.

Without ``--img-dir`` the frames are generated in a temporary folder:
512x512 JPEGs (quality 95) cut from a real photo (matplotlib's sample photo
by default) at random zoom and position, so they compress like photos.
Boxes are drawn per frame: ``typical`` hand boxes (side 80-300 px, what
Ego-Exo4D frames show) and ``large`` ones (side 360-500 px), where
reduced-size JPEG decoding applies (the window spans >= 2 source px per
input px).

Example::

    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_data.py \\
        --num-images 200 --repeats 5 --out work_dirs/benchmark_data.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import cv2
import matplotlib
import numpy as np
import torch
from mmengine.dataset import Compose, default_collate
from mmengine.model import ImgDataPreprocessor

from hp3d.datasets.camera import default_intrinsics
from hp3d.datasets.metainfo import HANDS, NUM_JOINTS
from hp3d.datasets.transforms import get_warp_matrix

INPUT_SIZE = (224, 224)
BOX_SIDES_PX = dict(typical=(80, 300), large=(360, 500))
# The model's data preprocessor (ImageNet mean/std in 0-255, BGR -> RGB).
PREPROCESSOR = dict(mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
PREPROCESS_BATCH = 32

CROP = [dict(type='TopdownAffine', input_size=INPUT_SIZE),
        dict(type='MirrorLeftHand')]
AUGMENT = [dict(type='PhotometricDistortion', prob=0.5),
           dict(type='RandomBlur', gaussian_prob=0.1, motion_prob=0.1)]
TARGET = [dict(type='GenerateTarget', encoder=dict(type='Pose3DCodec'))]
PACK = [dict(type='PackInputs')]


def compose(steps: List[dict]) -> Compose:
    """Build hp3d transforms without a default scope set."""
    return Compose([dict(s, _scope_='hp3d') for s in steps])


def load(max_decode_reduction: int = 1) -> List[dict]:
    """The ``LoadImage`` step, full size (1) or reduced up to 1/r."""
    return [dict(type='LoadImage', expected_size=(512, 512),
                 max_decode_reduction=max_decode_reduction,
                 input_size=INPUT_SIZE)]


def window(train: bool) -> List[dict]:
    """Box to crop window, jittered for training."""
    steps = [dict(type='GetBBoxCenterScale', input_size=INPUT_SIZE)]
    if train:
        steps.append(dict(type='RandomBBoxTransform'))
    return steps


# name -> what it runs: description, pipeline, box set, and whether the
# batch is then normalised on the CPU by the model's data preprocessor.
VARIANTS = {
    'decode': dict(desc='decode only (full size)', steps=load(),
                   boxes='typical', normalise=False),
    'test': dict(desc='test: decode + crop + pack',
                 steps=window(False) + load() + CROP + PACK,
                 boxes='typical', normalise=False),
    'test-norm': dict(desc='test + normalise (CPU preprocessor)',
                      steps=window(False) + load() + CROP + PACK,
                      boxes='typical', normalise=True),
    'train': dict(desc='train: jitter + decode + crop + augment + target + '
                  'pack',
                  steps=window(True) + load() + CROP + AUGMENT + TARGET + PACK,
                  boxes='typical', normalise=False),
    'large-full': dict(desc='test, large boxes, full decode',
                       steps=window(False) + load() + CROP + PACK,
                       boxes='large', normalise=False),
    'large-reduced': dict(desc='test, large boxes, reduced decode',
                          steps=window(False) + load(8) + CROP + PACK,
                          boxes='large', normalise=False),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--img-dir', help='folder of 512x512 JPEGs to use '
                        '(default: generate them in a temporary folder)')
    parser.add_argument('--num-images', type=int, default=200,
                        help='frames per pass (generated or first N found)')
    parser.add_argument('--photo', default=osp.join(
        matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg'),
                        help='photo the generated frames are cut from '
                        "(default: matplotlib's sample photo)")
    parser.add_argument('--quality', type=int, default=95,
                        help="JPEG quality of generated frames (cv2's default)")
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed passes per variant; the median is kept')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=list(VARIANTS), help='variants to run')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args()


def photo_frame(photo: np.ndarray, rng: np.random.Generator,
                size: int = 512) -> np.ndarray:
    """A (size, size, 3) view of ``photo``: random zoom 1-1.6x, position,
    mirror, so every file differs but keeps a real photo's statistics."""
    zoom = rng.uniform(1.0, 1.6) * size / min(photo.shape[:2])
    big = cv2.resize(photo, None, fx=zoom, fy=zoom,
                     interpolation=cv2.INTER_LINEAR)
    y = rng.integers(0, big.shape[0] - size + 1)
    x = rng.integers(0, big.shape[1] - size + 1)
    frame = big[y:y + size, x:x + size]
    return frame[:, ::-1] if rng.random() < 0.5 else frame


def make_frames(folder: str, photo_path: str, num: int, quality: int,
                rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Write ``num`` JPEGs to ``folder``; returns path -> source pixels."""
    photo = cv2.imread(photo_path)
    if photo is None:
        raise SystemExit(f'cannot read the photo {photo_path}; pass --photo '
                         'or --img-dir')
    sources = {}
    for i in range(num):
        path = osp.join(folder, f'{i:06d}.jpg')
        sources[path] = np.ascontiguousarray(photo_frame(photo, rng))
        cv2.imwrite(path, sources[path], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return sources


def make_samples(paths: Sequence[str], sides_px, rng: np.random.Generator
                 ) -> List[dict]:
    """One hand per frame, a box inside the 512x512 frame, half left."""
    samples = []
    for i, path in enumerate(paths):
        side = rng.uniform(*sides_px, size=2)
        x1, y1 = rng.uniform(0, 512 - side)
        hand = HANDS[i % 2]
        samples.append(dict(
            sample_idx=i, img_path=path, take_uid='bench', take_name='bench',
            frame_number=i, hand=hand, is_left=hand == 'left',
            bbox=np.array([x1, y1, x1 + side[0], y1 + side[1]], np.float32),
            keypoints_2d=np.full((NUM_JOINTS, 2), np.nan, np.float32),
            keypoints_3d=np.full((NUM_JOINTS, 3), np.nan, np.float32),
            keypoints_valid=np.zeros(NUM_JOINTS, bool), has_gt=False,
            cam_K=default_intrinsics()))
    return samples


def run_pass(pipeline: Compose, samples: List[dict],
             preprocessor: Optional[ImgDataPreprocessor]) -> Dict[str, float]:
    """CPU and wall seconds of one pass over ``samples``.

    CPU time of this single-threaded process is what the pass costs one
    core, even when other processes share the machine; wall time is what
    it took here.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    packed = [pipeline(dict(sample)) for sample in samples]
    if preprocessor is not None:
        for i in range(0, len(packed), PREPROCESS_BATCH):
            preprocessor(default_collate(packed[i:i + PREPROCESS_BATCH]))
    return dict(cpu=time.process_time() - cpu,
                wall=time.perf_counter() - wall)


def reduced_decode_accuracy(samples: List[dict],
                            sources: Dict[str, np.ndarray]) -> dict:
    """Mean |difference| of 224x224 crops, grey levels, on ``samples``.

    The reference is the ideal (area-filtered) crop: the source pixels
    (those the JPEG was made from; the full decode with ``--img-dir``)
    warped at 4x the input size, then averaged 4x4. It says which crop is
    closer to the scene, the full decode resampled bilinearly or the
    reduced decode (an r x r block average in the DCT domain).
    """
    steps = window(False)
    affine = [dict(type='TopdownAffine', input_size=INPUT_SIZE)]
    full = compose(steps + load() + affine)
    reduced = compose(steps + load(8) + affine)
    supersample = 4
    big_size = (INPUT_SIZE[0] * supersample, INPUT_SIZE[1] * supersample)
    diffs = dict(full_decode_vs_ideal=[], reduced_decode_vs_ideal=[],
                 reduced_vs_full_decode=[])
    for sample in samples:
        a = full(dict(sample))
        b = reduced(dict(sample))['img'].astype(np.float32)
        pixels = sources.get(sample['img_path'])
        if pixels is None:
            pixels = cv2.imread(sample['img_path'])
        big = cv2.warpAffine(
            pixels, get_warp_matrix(a['center'], a['scale'], 0.0, big_size),
            big_size, flags=cv2.INTER_LINEAR)
        ideal = cv2.resize(big, INPUT_SIZE, interpolation=cv2.INTER_AREA)
        ideal = ideal.astype(np.float32)
        a = a['img'].astype(np.float32)
        diffs['full_decode_vs_ideal'].append(np.abs(a - ideal).mean())
        diffs['reduced_decode_vs_ideal'].append(np.abs(b - ideal).mean())
        diffs['reduced_vs_full_decode'].append(np.abs(b - a).mean())
    return {k: float(np.mean(v)) for k, v in diffs.items()}


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if args.img_dir:
            paths = sorted(osp.join(args.img_dir, f)
                           for f in os.listdir(args.img_dir)
                           if f.lower().endswith('.jpg'))[:args.num_images]
            sources = {}
        else:
            sources = make_frames(tmp, args.photo, args.num_images,
                                  args.quality, rng)
            paths = sorted(sources)
        if not paths:
            raise SystemExit(f'no .jpg files in {args.img_dir}')
        boxes = {name: make_samples(paths, sides, rng)
                 for name, sides in BOX_SIDES_PX.items()}
        mean_kb = np.mean([osp.getsize(p) for p in paths]) / 1024

        runs = {}
        for name in args.variants:
            variant = VARIANTS[name]
            runs[name] = dict(
                pipeline=compose(variant['steps']),
                samples=boxes[variant['boxes']],
                preprocessor=(ImgDataPreprocessor(**PREPROCESSOR)
                              if variant['normalise'] else None),
                times=[])
        # Passes interleave the variants, so load from other processes
        # falls on all of them alike; pass 0 warms up.
        for repeat in range(args.repeats + 1):
            for name, run in runs.items():
                np.random.seed(repeat)
                times = run_pass(run['pipeline'], run['samples'],
                                 run['preprocessor'])
                if repeat:
                    run['times'].append(times)
        rows = []
        for name, run in runs.items():
            cpu = len(paths) / np.array([t['cpu'] for t in run['times']])
            wall = len(paths) / np.array([t['wall'] for t in run['times']])
            rows.append(dict(
                variant=name, desc=VARIANTS[name]['desc'],
                boxes=VARIANTS[name]['boxes'],
                images_per_cpu_s=float(np.median(cpu)),
                images_per_cpu_s_best=float(cpu.max()),
                cpu_ms_per_image=float(1e3 / np.median(cpu)),
                images_per_wall_s=float(np.median(wall))))
        accuracy = reduced_decode_accuracy(boxes['large'], sources)

    print(f'\n{len(paths)} frames 512x512, mean {mean_kb:.0f} KiB, '
          f'{args.repeats} passes (median), 1 thread, '
          f'cv2 {cv2.__version__}, {platform.processor() or platform.machine()}')
    print('| variant | what | boxes | images/s per core (CPU, median) '
          '| best pass | CPU ms/image | images/s (wall, this machine) |')
    print('| --- | --- | --- | ---: | ---: | ---: | ---: |')
    for row in rows:
        print(f'| {row["variant"]} | {row["desc"]} | {row["boxes"]} | '
              f'{row["images_per_cpu_s"]:.0f} | '
              f'{row["images_per_cpu_s_best"]:.0f} | '
              f'{row["cpu_ms_per_image"]:.2f} | '
              f'{row["images_per_wall_s"]:.0f} |')
    print('\nReduced decoding, large boxes, mean |difference| of 224x224 '
          'crops (grey levels, 0-255):')
    for key, value in accuracy.items():
        print(f'  {key}: {value:.3f}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(num_images=len(paths), mean_file_kib=mean_kb,
                           repeats=args.repeats, cv2=cv2.__version__,
                           input_size=INPUT_SIZE, results=rows,
                           reduced_decode_accuracy=accuracy), f, indent=2)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
