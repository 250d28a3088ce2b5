"""A right hand 35 cm in front of the camera, as one sample of each pipeline."""

import cv2
import numpy as np
import pytest

from hp3d.datasets.camera import default_intrinsics, project

# A pose built from the train split's mean hand (wrist-relative mm), with the
# fingers curled downwards so that no view is degenerate.
_MEAN_HAND_MM = np.array([
    [0.0, 0.0, 0.0], [-4.0, -0.9, 24.5], [-13.2, 1.3, 47.7], [-22.9, 1.5, 72.6],
    [-31.1, 1.9, 96.0], [-48.4, 4.6, 67.1], [-59.8, 6.0, 93.9],
    [-57.1, 5.8, 111.0], [-51.1, 5.0, 125.0], [-51.6, 2.5, 72.1],
    [-65.9, 3.1, 98.4], [-62.0, 2.8, 116.1], [-54.6, 2.5, 129.2],
    [-46.5, 0.3, 73.1], [-59.2, 0.0, 96.2], [-56.7, -0.1, 112.1],
    [-51.3, 0.0, 123.8], [-35.8, -1.0, 70.6], [-43.7, -2.0, 88.7],
    [-44.9, -2.6, 101.2], [-44.6, -3.4, 111.8]
])
_CURL_MM = np.r_[0.0, np.tile([4.0, 14.0, 26.0, 36.0], 5)]
WRIST_M = np.array([0.06, 0.08, 0.30])
CROP_PX = 224


def hand_keypoints_m() -> np.ndarray:
    """(21, 3) camera-frame joints in metres."""
    hand_mm = _MEAN_HAND_MM.copy()
    hand_mm[:, 1] += _CURL_MM
    return hand_mm / 1000.0 + WRIST_M


def _sample(with_image: bool):
    keypoints_3d = hand_keypoints_m().astype(np.float32)
    cam_K = default_intrinsics()
    keypoints_2d = project(keypoints_3d.astype(np.float64), cam_K)
    lo, hi = keypoints_2d.min(0) - 20, keypoints_2d.max(0) + 20
    valid = np.ones(21, dtype=bool)
    valid[20] = False  # pinky tip
    sample = dict(take_uid='0a1b2c', take_name='georgiatech_cooking_01_1',
                  frame_number=np.array(123), hand='right',
                  has_gt=np.array(True), flipped=np.array(False),
                  keypoints_3d=keypoints_3d, keypoints_valid=valid,
                  cam_K=cam_K, bbox=np.r_[lo, hi].astype(np.float32))
    if not with_image:
        return None, sample
    centre, size = (lo + hi) / 2, (hi - lo).max() * 1.25
    src = np.float32([centre - size / 2, centre + [size / 2, -size / 2],
                      centre + size / 2])
    dst = np.float32([[0, 0], [CROP_PX, 0], [CROP_PX, CROP_PX]])
    warp_mat = cv2.getAffineTransform(src, dst)
    # A smooth frame: a colour gradient, so the crop is visibly an image.
    u, v = np.meshgrid(np.arange(512), np.arange(512))
    frame = np.stack([u / 2, v / 2, (u + v) / 4], -1).astype(np.uint8)
    crop = cv2.warpAffine(frame, warp_mat, (CROP_PX, CROP_PX))
    sample.update(warp_mat=warp_mat.astype(np.float32),
                  keypoints_2d_crop=(keypoints_2d @ warp_mat[:, :2].T +
                                     warp_mat[:, 2]).astype(np.float32))
    return crop, sample


def _prediction(sample):
    gt_mm = sample['keypoints_3d'].astype(np.float64) * 1000.0
    offset = np.random.default_rng(0).normal(0.0, 6.0, (21, 3))
    offset[0] = 0.0
    return dict(sample_idx=0, take_uid=sample['take_uid'], frame_number=123,
                hand='right', has_gt=True,
                pred_mm=gt_mm - gt_mm[0] + offset,
                gt_m=sample['keypoints_3d'], valid=sample['keypoints_valid'])


@pytest.fixture
def hand_mm():
    """(21, 3) camera-frame joints in mm."""
    return hand_keypoints_m() * 1000.0


@pytest.fixture
def image_sample():
    """(crop (224, 224, 3) uint8 BGR, data_sample, prediction)."""
    crop, sample = _sample(with_image=True)
    return crop, sample, _prediction(sample)


@pytest.fixture
def lifting_sample():
    """(None, data_sample, prediction) of the lifting pipeline."""
    _, sample = _sample(with_image=False)
    return None, sample, _prediction(sample)


