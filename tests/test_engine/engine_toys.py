"""A tiny CPU model, data set, metric and hooks for the engine and tool tests.

Registered in hp3d's registries under ``EngineToy*`` names that no real
config uses. Subprocesses import this module through the config's
``custom_imports`` (``PYTHONPATH`` must hold this directory: see
:func:`subprocess_env`).
"""
import itertools
import os
import os.path as osp
import random
import socket
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from hp3d.registry import DATASETS, HOOKS, METRICS, MODELS

TOYS_DIR = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(TOYS_DIR))
TOOLS_DIR = osp.join(REPO_ROOT, 'tools')
# mmengine names a run's logger, message hub and visualizer after its
# experiment name plus a timestamp in seconds: give each toy run its own
# (Hp3dRunner keeps same-second runs apart, mmengine's Runner does not, and
# some tests run mmengine's).
_RUN_IDS = itertools.count()
# Weights of the noiseless target function y = x . W_TRUE + 0.5.
W_TRUE = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)


@DATASETS.register_module(force=True)
class EngineToyDataset(Dataset):
    """``num_samples`` fixed inputs (4,) and targets (1,).

    ``noise_std`` > 0 adds input noise drawn from numpy's global generator
    and a shift drawn from Python's ``random`` (mmcv's transforms use both)
    at load time, a random augmentation whose draws depend on the RNG state.
    """

    def __init__(self, num_samples: int = 20, noise_std: float = 0.0):
        self.num_samples = num_samples
        self.noise_std = noise_std
        rng = np.random.default_rng(1234)
        self.inputs = rng.normal(size=(num_samples, 4)).astype(np.float32)
        self.targets = (self.inputs @ W_TRUE + 0.5)[:, None]

    @property
    def metainfo(self) -> dict:
        # A numpy array, as pose data sets keep in their metainfo.
        return dict(name='engine_toy', num_samples=self.num_samples,
                    input_scale=np.ones(4, dtype=np.float32))

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, idx: int) -> dict:
        inputs = self.inputs[idx].copy()
        if self.noise_std > 0:
            inputs += np.random.normal(
                scale=self.noise_std, size=4).astype(np.float32)
            inputs += np.float32(random.gauss(0.0, self.noise_std))
        return dict(
            inputs=torch.from_numpy(inputs),
            data_samples=dict(
                sample_idx=idx, target=torch.from_numpy(self.targets[idx])))


@MODELS.register_module(force=True)
class EngineToyModel(BaseModel):
    """BatchNorm -> Linear -> ReLU -> Dropout -> Linear regressor.

    Args:
        dropout (float): Dropout probability (draws from torch's generator).
        norm (bool): Whether to start with BatchNorm (its batch statistics
            differ between one process and several).
        nan_at_iters (Sequence[int]): Global iterations (0-based) whose
            inputs are multiplied by NaN, poisoning the loss, the gradients
            and the BatchNorm statistics.
        fail_rank (int, optional): Rank that fails at ``fail_at_iter``.
        fail_at_iter (int, optional): Iteration at which ``fail_rank``
            raises ``RuntimeError('toy failure ...')``.
        hang (bool): Instead of raising, ``fail_rank`` stops responding
            (sleeps for 10 minutes).
    """

    def __init__(self, dropout: float = 0.2, norm: bool = True,
                 nan_at_iters: Sequence[int] = (),
                 fail_rank: Optional[int] = None,
                 fail_at_iter: Optional[int] = None,
                 hang: bool = False):
        super().__init__()
        self.norm = nn.BatchNorm1d(4) if norm else nn.Identity()
        self.fc1 = nn.Linear(4, 16)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(16, 1)
        self.nan_at_iters = tuple(nan_at_iters)
        self.fail_rank = fail_rank
        self.fail_at_iter = fail_at_iter
        self.hang = hang

    def forward(self, inputs: torch.Tensor, data_samples: Optional[dict] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            it = MessageHub.get_current_instance().get_info('iter')
            if it in self.nan_at_iters:
                inputs = inputs * float('nan')
            if it == self.fail_at_iter and get_rank() == self.fail_rank:
                if self.hang:
                    time.sleep(600)
                raise RuntimeError(
                    f'toy failure on rank {self.fail_rank} at iter {it}')
        pred = self.fc2(self.drop(F.relu(self.fc1(self.norm(inputs)))))
        if mode == 'loss':
            return dict(loss=F.mse_loss(pred, data_samples['target']))
        if mode == 'predict':
            return [
                dict(sample_idx=int(idx), pred=float(p), target=float(t))
                for idx, p, t in zip(data_samples['sample_idx'], pred[:, 0],
                                     data_samples['target'][:, 0])
            ]
        return pred


@METRICS.register_module(force=True)
class EngineToyMetric(BaseMetric):
    """Counts the evaluated samples; ``mse`` over them.

    Reports ``count``, ``idx_sum`` (sum of ``sample_idx``: a duplicated or
    missing sample changes it) and ``mse`` (a numpy scalar, as real metrics
    return).
    """

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: List[dict]) -> Dict[str, object]:
        errors = [(r['pred'] - r['target'])**2 for r in results]
        return dict(
            count=len(results),
            idx_sum=sum(r['sample_idx'] for r in results),
            mse=np.mean(errors))


@HOOKS.register_module(force=True)
class EngineToyPauseHook(Hook):
    """After ``at_iter`` iterations, touch ``marker`` and wait to be killed."""

    priority = 'LOWEST'

    def __init__(self, at_iter: int, marker: str):
        self.at_iter = at_iter
        self.marker = marker

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.at_iter:
            open(self.marker, 'w').close()
            time.sleep(600)


def toy_cfg(work_dir: str, **overrides) -> dict:
    """A complete config for the toy; top-level keys replaced by overrides.

    20 training samples in batches of 4 (5 iterations per epoch), 3 epochs,
    validation/test on 7 samples (not a multiple of 2 processes).
    """
    loader = dict(
        num_workers=0,
        collate_fn=dict(type='default_collate'))
    cfg = dict(
        default_scope='hp3d',
        runner_type='Hp3dRunner',
        custom_imports=dict(imports=['engine_toys'],
                            allow_failed_imports=False),
        work_dir=work_dir,
        experiment_name=f'engine_toy_{os.getpid()}_{next(_RUN_IDS)}',
        model=dict(type='EngineToyModel'),
        train_dataloader=dict(
            batch_size=4,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='EngineToyDataset', num_samples=20,
                         noise_std=0.1),
            **loader),
        val_dataloader=dict(
            batch_size=2,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='EngineToyDataset', num_samples=7),
            **loader),
        val_evaluator=dict(type='EngineToyMetric'),
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=dict(
            optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.01),
            clip_grad=dict(max_norm=1.0)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=False,
                 begin=0, end=4),
            dict(type='MultiStepLR', milestones=[2], by_epoch=True),
        ],
        default_hooks=dict(
            logger=dict(type='MainProcessLoggerHook', interval=1),
            checkpoint=dict(type='AtomicCheckpointHook', interval=1)),
        custom_hooks=[dict(type='NaNGuardHook')],
        randomness=dict(seed=7, deterministic=True),
        env_cfg=dict(
            cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
            dist_cfg=dict(backend='nccl', timeout=120)),
        log_level='INFO')
    cfg['test_dataloader'] = cfg['val_dataloader']
    cfg['test_evaluator'] = cfg['val_evaluator']
    cfg['test_cfg'] = dict()
    cfg.update(overrides)
    return cfg


def write_toy_config(path: str, work_dir: str, **overrides) -> str:
    """Write :func:`toy_cfg` as a Python config file; returns ``path``."""
    Config(toy_cfg(work_dir, **overrides)).dump(path)
    return path


def subprocess_env(**extra: str) -> Dict[str, str]:
    """Environment for tools run as subprocesses: toys importable, 1 thread."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [TOYS_DIR, REPO_ROOT, env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    env['PYTHON'] = sys.executable
    env['OMP_NUM_THREADS'] = '1'
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port free right now on localhost (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def state_dict_of(checkpoint_path: str) -> Dict[str, torch.Tensor]:
    """The model weights of a checkpoint, loaded weights-only."""
    return torch.load(checkpoint_path, weights_only=True)['state_dict']
