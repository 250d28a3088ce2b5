"""Write a synthetic Ego-Exo4D hand-pose dataset in the official layout.

::

    out_dir/
      annotations/ego_pose_gt_anno_{train,val,test}_public.json
      annotations/boxes/ego_pose_gt_anno_test_public.json   (boxes only)
      camera_pose/{take_uid}.json
      images/{split}/{take_name}/{frame_number:06d}.jpg

Takes are generated independently (one random stream per take, spawned from
the seed), so the output is byte-identical for a seed whatever the number of
worker processes; annotation files are streamed take by take, images written
by the workers, so memory does not grow with the dataset.
"""
import json
import os
import os.path as osp
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Dict, List, Optional, TextIO, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from hp3d.utils.atomic_io import TMP_SUFFIX, replace_atomically

from ..camera import IMAGE_SIZE_PX
from ..metainfo import HANDS, MIN_VALID_JOINTS
from .annotation import (
    hand_fields,
    mask_invalid,
    padded_keypoint_boxes,
    random_test_boxes,
)
from .hand_model import HandShape
from .hand_pose import HandPoses, intrinsics_for, pose_hands
from .motion import (
    sample_frame_numbers,
    sample_head_motion,
    sample_presence,
    smooth_latents,
    smooth_noise,
)
from .pose_prior import LATENT_DIM, PosePrior, sample_shapes
from .render import SCENARIOS, encode_jpeg, render_frame, sample_appearance
from .visibility import joint_validity

SPLITS: Tuple[str, ...] = ('train', 'val', 'test')
SPLIT_SHARES: Tuple[float, ...] = (0.7, 0.15, 0.15)
CAMERA_NAME = 'aria01'
ANNOTATION_DIR = 'annotations'
GT_FILE = 'ego_pose_gt_anno_{split}_public.json'
# The real public test file's name and content (boxes only), in a folder of
# its own: the official name tells the loaders its split.
TEST_BOXES_FILE = 'boxes/ego_pose_gt_anno_test_public.json'
# Share of frames the more frequent hand side is in view.
MAX_IN_VIEW = 0.95


def split_counts(num_takes: int) -> Tuple[int, int, int]:
    """Takes per split: 70/15/15 %, at least one each from 3 takes.

    One take goes to train; two to train and test (so that the box-only
    file is exercised).
    """
    if num_takes < 1:
        raise ValueError(f'num_takes must be >= 1, got {num_takes}')
    if num_takes < 3:
        return (1, 0, num_takes - 1)
    val = max(1, int(round(num_takes * SPLIT_SHARES[1])))
    test = max(1, int(round(num_takes * SPLIT_SHARES[2])))
    return (num_takes - val - test, val, test)


def assign_splits(rng: np.random.Generator, num_takes: int) -> List[str]:
    """The split of each take (whole takes per split, shuffled)."""
    labels = [split for split, count in zip(SPLITS, split_counts(num_takes))
              for _ in range(count)]
    return [labels[i] for i in rng.permutation(num_takes)]


@dataclass(frozen=True)
class TakeSpec:
    """What a worker needs to generate one take."""

    index: int
    split: str
    seed: np.random.SeedSequence
    num_frames: int
    image_size: int
    out_dir: str
    write_images: bool
    prior: PosePrior


@dataclass
class TakeResult:
    """A generated take: its annotation JSON text and counts."""

    index: int
    split: str
    take_uid: str
    gt_json: str
    boxes_json: Optional[str]
    frames: int
    hands: Dict[str, int]


def presence_rates(right_share: float) -> Dict[str, float]:
    """Share of frames each hand is in view, so that right hands make
    ``right_share`` of the hands (the more frequent side in view 95 %)."""
    ratio = right_share / (1 - right_share)
    return dict(right=MAX_IN_VIEW * min(1.0, ratio),
                left=MAX_IN_VIEW * min(1.0, 1 / ratio))


def _hand_track(rng: np.random.Generator, spec: TakeSpec, shape: HandShape,
                frames: np.ndarray, hand: str, cam_K: np.ndarray) -> tuple:
    """Poses, 2D, flags and presence of one hand over a take."""
    num = len(frames)
    is_left = hand == 'left'
    latents = smooth_latents(rng, frames, LATENT_DIM)
    present = sample_presence(rng, num,
                              presence_rates(spec.prior.right_share)[hand])
    hands = pose_hands(shape.take(np.zeros(num, dtype=int)), latents,
                       np.full(num, is_left), spec.prior, cam_K,
                       spec.image_size)
    keypoints_2d, valid = joint_validity(hands, cam_K, spec.image_size)
    annotated = present & (valid.sum(1) >= MIN_VALID_JOINTS)
    return hands, keypoints_2d, valid, present, annotated


def _frame_hands(tracks: Dict[str, HandPoses], sides: List[str],
                 t: int) -> HandPoses:
    """The hands of ``sides`` at frame ``t`` as one batch."""
    rows = [tracks[side] for side in sides]
    return HandPoses(
        joints_m=np.stack([r.joints_m[t] for r in rows]),
        palm_frame=np.stack([r.palm_frame[t] for r in rows]),
        segment_frames=np.stack([r.segment_frames[t] for r in rows]),
        is_left=np.array([r.is_left[t] for r in rows]),
        shape=rows[0].shape.take(np.zeros(len(rows), dtype=int)))


def generate_take(spec: TakeSpec) -> TakeResult:
    """Generate one take: annotations, camera file and (optionally) images.

    Args:
        spec (TakeSpec): the take's index, split, seed and output settings.

    Returns:
        TakeResult: the take's annotation JSON (and box-only JSON for test).
    """
    pose_seed, look_seed, render_seed = spec.seed.spawn(3)
    rng = np.random.default_rng(pose_seed)
    take_uid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
    scenario = SCENARIOS[int(rng.integers(len(SCENARIOS)))]
    take_name = f'synth_{spec.index:04d}_{scenario}'
    cam_K = intrinsics_for(spec.image_size)
    frames = sample_frame_numbers(rng, spec.num_frames)
    extrinsics, head_rotation = sample_head_motion(rng, frames)
    light_gain = 1.0 + 0.08 * smooth_noise(rng, frames, 1, 30.0)[:, 0]
    prior = spec.prior
    shape = sample_shapes(rng, 1, prior)
    tracks, kp2d, valid, present, annotated = {}, {}, {}, {}, {}
    for hand in HANDS:
        (tracks[hand], kp2d[hand], valid[hand], present[hand],
         annotated[hand]) = _hand_track(rng, spec, shape, frames, hand,
                                        cam_K)
    boxes, test_boxes = {}, {}
    for hand in HANDS:
        # Boxes are written only where the hand is kept; elsewhere all
        # joints count, so that every frame's extent is defined.
        ok = valid[hand] | ~annotated[hand][:, None]
        boxes[hand] = padded_keypoint_boxes(kp2d[hand], ok, spec.image_size)
        test_boxes[hand] = random_test_boxes(rng, kp2d[hand], ok,
                                             spec.image_size)

    appearance = render_rng = None
    if spec.write_images:
        render_rng = np.random.default_rng(render_seed)
        appearance = sample_appearance(np.random.default_rng(look_seed),
                                       spec.image_size, scenario)
        image_dir = osp.join(spec.out_dir, 'images', spec.split, take_name)
        os.makedirs(image_dir, exist_ok=True)

    gt, box_only = {}, {}
    counts = {hand: 0 for hand in HANDS}
    for t, frame_number in enumerate(frames.tolist()):
        if not any(annotated[hand][t] for hand in HANDS):
            continue
        frame, box_frame = {}, {}
        for hand in HANDS:
            if annotated[hand][t]:
                kp3d_t, kp2d_t = mask_invalid(
                    tracks[hand].joints_m[t:t + 1], kp2d[hand][t:t + 1],
                    valid[hand][t:t + 1])
                box = (test_boxes if spec.split == 'test' else boxes)[hand][t]
                frame.update(hand_fields(hand, kp3d_t[0], kp2d_t[0], box,
                                         valid[hand][t]))
                counts[hand] += 1
            else:
                frame.update(hand_fields(hand))
            box_frame[f'{hand}_hand_bbox'] = frame[f'{hand}_hand_bbox']
        metadata = dict(take_uid=take_uid, take_name=take_name,
                        frame_number=frame_number)
        frame['metadata'] = box_frame['metadata'] = metadata
        gt[str(frame_number)] = frame
        box_only[str(frame_number)] = box_frame
        if spec.write_images:
            in_view = [hand for hand in HANDS if present[hand][t]]
            hands = _frame_hands(tracks, in_view, t) if in_view else None
            img = render_frame(render_rng, appearance, hands, cam_K,
                               head_rotation[t], float(light_gain[t]))
            with open(osp.join(image_dir, f'{frame_number:06d}.jpg'),
                      'wb') as f:
                f.write(encode_jpeg(render_rng, img, appearance))

    camera = {CAMERA_NAME: dict(
        camera_intrinsics=cam_K.tolist(),
        camera_extrinsics={str(n): np.round(e, 6).tolist()
                           for n, e in zip(frames.tolist(), extrinsics)})}
    with open(osp.join(spec.out_dir, 'camera_pose', f'{take_uid}.json'),
              'w') as f:
        json.dump(camera, f)
    return TakeResult(
        index=spec.index, split=spec.split, take_uid=take_uid,
        gt_json=json.dumps(gt),
        boxes_json=json.dumps(box_only) if spec.split == 'test' else None,
        frames=len(gt), hands=counts)


class _ObjectWriter:
    """Streams ``{key: value, ...}`` to a file, formatted like json.dump.

    Writes to ``path + TMP_SUFFIX`` and renames on :meth:`close`, so an
    interrupted run never leaves a complete-looking file.
    """

    def __init__(self, path: str):
        self.path = path
        self.file: TextIO = open(path + TMP_SUFFIX, 'w')
        self.file.write('{')
        self.count = 0

    def add(self, key: str, value_json: str) -> None:
        if self.count:
            self.file.write(', ')
        self.file.write(f'{json.dumps(key)}: {value_json}')
        self.count += 1

    def close(self) -> None:
        self.file.write('}')
        self.file.close()
        replace_atomically(self.path + TMP_SUFFIX, self.path)


def _init_worker() -> None:
    # One OpenCV thread per worker process: the pool is the parallelism.
    cv2.setNumThreads(1)


def generate_dataset(out_dir: str,
                     num_takes: int = 40,
                     frames_per_take: int = 60,
                     seed: int = 0,
                     workers: int = 1,
                     image_size: int = IMAGE_SIZE_PX,
                     progress: bool = True,
                     write_images: bool = True,
                     prior: Optional[PosePrior] = None) -> Dict:
    """Generate a synthetic dataset in the official Ego-Exo4D layout.

    Args:
        out_dir (str): output root (created; existing files are replaced).
        num_takes (int): number of takes, split 70/15/15 % by whole takes.
        frames_per_take (int): sampled frames per take (frames whose hands
            are all out of view are not annotated).
        seed (int): the output is a function of the arguments only.
        workers (int): worker processes (does not change the output).
        image_size (int): image side in px (512: the real camera).
        progress (bool): show a progress bar.
        write_images (bool): also render the JPEG frames (annotations are
            the same either way).
        prior (PosePrior, optional): pose distribution, default
            ``PosePrior()``.

    Returns:
        dict: ``out_dir``, ``num_takes``, ``frames_per_take``, ``seed``,
        ``image_size``, ``seconds`` and ``splits``: per split ``takes``,
        ``frames``, ``hands``, ``right``, ``left``.
    """
    if frames_per_take < 1:
        raise ValueError(f'frames_per_take must be >= 1, got '
                         f'{frames_per_take}')
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    if image_size < 64:
        raise ValueError(f'image_size must be >= 64, got {image_size}')
    start = time.time()
    prior = PosePrior() if prior is None else prior
    root = np.random.SeedSequence(seed)
    take_seeds = root.spawn(num_takes)
    splits = assign_splits(np.random.default_rng(root.spawn(1)[0]), num_takes)
    ann_dir = osp.join(out_dir, ANNOTATION_DIR)
    for sub in (ANNOTATION_DIR, osp.dirname(osp.join(ANNOTATION_DIR,
                                                      TEST_BOXES_FILE)),
                'camera_pose'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    specs = [TakeSpec(index=i, split=splits[i], seed=take_seeds[i],
                      num_frames=frames_per_take, image_size=image_size,
                      out_dir=out_dir, write_images=write_images, prior=prior)
             for i in range(num_takes)]
    writers = {split: _ObjectWriter(osp.join(ann_dir,
                                             GT_FILE.format(split=split)))
               for split in SPLITS}
    box_writer = _ObjectWriter(osp.join(ann_dir, TEST_BOXES_FILE))
    summary = {split: dict(takes=0, frames=0, hands=0, right=0, left=0)
               for split in SPLITS}
    # spawn, not fork: a forked child of a process whose OpenCV/OpenMP thread
    # pools already ran can deadlock in its first cv2 call.
    with (get_context('spawn').Pool(workers, initializer=_init_worker)
          if workers > 1 else nullcontext()) as pool:
        results = (pool.imap(generate_take, specs) if pool is not None else
                   map(generate_take, specs))
        for result in tqdm(results, total=num_takes, disable=not progress,
                           desc='synthetic takes', unit='take'):
            if not result.frames:
                continue
            writers[result.split].add(result.take_uid, result.gt_json)
            if result.boxes_json is not None:
                box_writer.add(result.take_uid, result.boxes_json)
            counts = summary[result.split]
            counts['takes'] += 1
            counts['frames'] += result.frames
            for hand in HANDS:
                counts[hand] += result.hands[hand]
                counts['hands'] += result.hands[hand]
    for writer in list(writers.values()) + [box_writer]:
        writer.close()
    return dict(out_dir=out_dir, num_takes=num_takes,
                frames_per_take=frames_per_take, seed=seed,
                image_size=image_size, seconds=time.time() - start,
                splits=summary)


__all__ = [
    'SPLITS', 'CAMERA_NAME', 'ANNOTATION_DIR', 'GT_FILE', 'TEST_BOXES_FILE',
    'split_counts', 'assign_splits', 'TakeSpec', 'TakeResult',
    'generate_take', 'generate_dataset'
]
