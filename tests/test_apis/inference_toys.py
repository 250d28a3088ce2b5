"""Pieces the inference tests share: a known hand, random checkpoints."""
from pathlib import Path

import numpy as np
import torch

from hp3d.apis import init_model
from hp3d.apis.model_index import REPO_ROOT
from hp3d.datasets.camera import project

LIFTING_CONFIG = REPO_ROOT / 'configs' / 'pose_transformer_egoexo.py'
# A POTTER small enough for CPU tests (64x64 crops).
TINY_POTTER_CONFIG = Path(__file__).parent / 'data' / 'tiny_potter.py'
# A camera other than the default one, so that intrinsics are really used.
CAM_K = np.array([[180.0, 0.0, 240.0], [0.0, 160.0, 270.0], [0.0, 0.0, 1.0]])


def hand_3d_m(wrist_m=(0.04, 0.07, 0.35), seed: int = 0) -> np.ndarray:
    """(21, 3) camera-frame joints in metres around a wrist, all z > 0."""
    offsets_m = np.random.default_rng(seed).uniform(-0.06, 0.09, (21, 3))
    offsets_m[0] = 0.0
    return np.asarray(wrist_m) + offsets_m


def hand_2d_px(cam_K: np.ndarray = CAM_K, seed: int = 0) -> np.ndarray:
    """(21, 2) projection of :func:`hand_3d_m`."""
    return project(hand_3d_m(seed=seed), cam_K)


def save_random_checkpoint(config, path: Path, seed: int) -> Path:
    """Build ``config``'s model with seeded random weights and save them as
    an mmengine-style checkpoint (``{'state_dict': ...}``)."""
    torch.manual_seed(seed)
    model = init_model(config)
    torch.save({'state_dict': model.state_dict()}, path)
    return path

