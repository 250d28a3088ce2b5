"""Fixtures of the inference tests."""
from pathlib import Path

import pytest
from inference_toys import LIFTING_CONFIG, save_random_checkpoint
from mmengine.config import Config


@pytest.fixture(scope='module')
def lifting_cfg() -> Config:
    return Config.fromfile(str(LIFTING_CONFIG))


@pytest.fixture(scope='module')
def lifting_ckpt(lifting_cfg, tmp_path_factory) -> Path:
    return save_random_checkpoint(
        lifting_cfg, tmp_path_factory.mktemp('lifting') / 'lifting.pth', 1)
