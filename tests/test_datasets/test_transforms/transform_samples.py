"""Samples and frames for the transform tests, built in memory."""
from typing import Dict

import cv2
import numpy as np

from hp3d.datasets.camera import default_intrinsics, project
from hp3d.datasets.metainfo import FINGER_JOINTS, NUM_JOINTS, WRIST

INVALID_JOINT = 7


def hand_joints_m(wrist=(0.04, 0.06, 0.40)) -> np.ndarray:
    """(K, 3) camera-frame metres: a flat open hand, fingers up the image."""
    joints = np.zeros((NUM_JOINTS, 3), dtype=np.float32)
    joints[WRIST] = wrist
    for f, finger in enumerate(FINGER_JOINTS.values()):
        for i, j in enumerate(finger):
            joints[j] = (wrist[0] + 0.02 * (f - 2),
                         wrist[1] - 0.03 - 0.02 * i,
                         wrist[2] + 0.005 * i)
    return joints


def make_sample(hand: str = 'right', has_gt: bool = True,
                img_path: str = '') -> Dict:
    """A sample as docs/design.md section 1 describes it."""
    cam_k = default_intrinsics()
    kpts_3d = hand_joints_m()
    kpts_2d = project(kpts_3d, cam_k).astype(np.float32)
    valid = np.ones(NUM_JOINTS, dtype=bool)
    valid[INVALID_JOINT] = False
    bbox = np.concatenate([kpts_2d.min(0) - 20,
                           kpts_2d.max(0) + 20]).astype(np.float32)
    kpts_3d[INVALID_JOINT] = np.nan
    kpts_2d[INVALID_JOINT] = np.nan
    if not has_gt:
        kpts_3d[:] = np.nan
        kpts_2d[:] = np.nan
        valid[:] = False
    return dict(sample_idx=3, img_path=img_path, take_uid='uid-0',
                take_name='take_a', frame_number=42, hand=hand,
                is_left=hand == 'left', bbox=bbox, keypoints_2d=kpts_2d,
                keypoints_3d=kpts_3d, keypoints_valid=valid, has_gt=has_gt,
                cam_K=cam_k)


def textured_frame(size=(512, 512), seed=0) -> np.ndarray:
    """(h, w, 3) uint8 smooth colour texture, like a natural frame."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = rng.random((h, w, 3)).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 3)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def blob_frame(center_uv, size=(512, 512), sigma=3.0) -> np.ndarray:
    """(h, w, 3) uint8 Gaussian blob centred on ``center_uv`` px."""
    w, h = size
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    blob = np.exp(-((u - center_uv[0])**2 + (v - center_uv[1])**2) /
                  (2 * sigma**2))
    return np.repeat((blob * 255).round().astype(np.uint8)[..., None], 3, 2)


def centroid_uv(img: np.ndarray) -> np.ndarray:
    """Intensity-weighted centroid (u, v) px of channel 0."""
    weight = img[..., 0].astype(np.float64)
    v, u = np.mgrid[:img.shape[0], :img.shape[1]]
    return np.array([(u * weight).sum(), (v * weight).sum()]) / weight.sum()
