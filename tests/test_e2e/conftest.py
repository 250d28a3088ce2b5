"""Shared helpers of the end-to-end tests."""
import json
from pathlib import Path
from typing import Callable, List, Tuple

import pytest

from hp3d.engine import Hp3dRunner


def _logged(work_dir: Path, key: str) -> List[float]:
    """Every value of ``key`` in the run's scalar log, in order."""
    scalars = next(Path(work_dir).glob('*/vis_data/scalars.json'))
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    return [row[key] for row in rows if key in row]


def _train(cfg) -> Tuple[Hp3dRunner, Path]:
    runner = Hp3dRunner.from_cfg(cfg)
    runner.train()
    return runner, Path(cfg.work_dir)


@pytest.fixture(scope='session')
def train() -> Callable:
    """``train(cfg)``: train to the end; the runner and its work dir."""
    return _train


@pytest.fixture
def logged() -> Callable[[Path, str], List[float]]:
    """``logged(work_dir, key)``: the values a run logged for ``key``."""
    return _logged
