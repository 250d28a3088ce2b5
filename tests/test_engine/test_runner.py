"""Hp3dRunner: defaults, generator states in checkpoints, CPU DDP set-up."""
import json
import os
import os.path as osp
import time

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
from engine_toys import REPO_ROOT, free_port, toy_cfg
from mmengine.config import Config
from mmengine.hooks import CheckpointHook, LoggerHook
from mmengine.model import MMDistributedDataParallel

from hp3d.engine import (
    AtomicCheckpointHook,
    Hp3dRunner,
    MainProcessLoggerHook,
    ResumableEpochBasedTrainLoop,
    init_cpu_dist,
)
from hp3d.engine.dist import _export_slurm_env
from hp3d.engine.rng import RNG_STATE_KEY, get_rng_state, set_rng_state
from hp3d.registry import RUNNERS


def _cfg(work_dir, **overrides) -> Config:
    return Config(toy_cfg(str(work_dir), **overrides))


def test_built_from_runner_type_with_hp3d_defaults(tmp_path):
    cfg = _cfg(tmp_path, default_hooks=dict())
    runner = RUNNERS.build(cfg)
    assert type(runner) is Hp3dRunner
    checkpoint_hooks = [h for h in runner.hooks
                        if isinstance(h, CheckpointHook)]
    assert [type(h) for h in checkpoint_hooks] == [AtomicCheckpointHook]
    logger_hooks = [h for h in runner.hooks if isinstance(h, LoggerHook)]
    assert [type(h) for h in logger_hooks] == [MainProcessLoggerHook]
    loop = runner.build_train_loop(cfg.train_cfg)
    assert type(loop) is ResumableEpochBasedTrainLoop
    assert loop.max_epochs == 3


def test_runners_made_in_the_same_second_share_nothing(tmp_path,
                                                       monkeypatch):
    # mmengine names the message hub, logger, log dir and (unless the config
    # names it) the visualizer after the timestamp
    monkeypatch.setattr(time, 'time', lambda: 1_600_000_000.0)
    visualizer = dict(Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/default_runtime.py')).visualizer,
        vis_backends=[dict(type='LocalVisBackend')])
    first, second = (
        Hp3dRunner.from_cfg(_cfg(tmp_path, experiment_name='same',
                                 visualizer=visualizer))
        for _ in range(2))
    assert second.timestamp == f'{first.timestamp}_2'
    assert first.message_hub is not second.message_hub
    assert first.logger is not second.logger
    assert first.log_dir != second.log_dir
    assert first.visualizer is not second.visualizer
    first.message_hub.update_scalar('train/loss', 1.0)
    assert 'train/loss' not in second.message_hub.log_scalars


def test_plain_checkpoint_hook_is_warned_about(tmp_path, capsys):
    Hp3dRunner.from_cfg(
        _cfg(tmp_path,
             default_hooks=dict(checkpoint=dict(type='CheckpointHook'))))
    assert "Use type='AtomicCheckpointHook'" in capsys.readouterr().out


def test_checkpoints_carry_generator_states(tmp_path):
    runner = Hp3dRunner.from_cfg(
        _cfg(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1)))
    runner.train()
    saved = torch.load(osp.join(tmp_path, 'epoch_1.pth'),
                       weights_only=True)['message_hub']['runtime_info']
    state = saved[RNG_STATE_KEY]
    # Restoring the saved states reproduces the draws that follow them.
    set_rng_state(state)
    draws = (torch.rand(3), np.random.rand(3))
    set_rng_state(state)
    assert torch.equal(draws[0], torch.rand(3))
    assert np.array_equal(draws[1], np.random.rand(3))
    assert set(get_rng_state()) == set(state)


def test_resume_finds_the_checkpoint_of_a_moved_work_dir(tmp_path):
    first = tmp_path / 'first'
    Hp3dRunner.from_cfg(
        _cfg(first, train_cfg=dict(by_epoch=True, max_epochs=1))).train()
    moved = tmp_path / 'moved'
    os.rename(first, moved)
    # the pointer still names the old place
    assert (moved / 'last_checkpoint').read_text().startswith(str(first))
    runner = Hp3dRunner.from_cfg(_cfg(
        moved, train_cfg=dict(by_epoch=True, max_epochs=2), resume=True))
    runner.train()
    log = (moved / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert f'resuming from the file of that name in this work dir, ' \
        f'{moved / "epoch_1.pth"}' in log
    assert 'resumed epoch: 1' in log
    assert (moved / 'epoch_2.pth').is_file()
    assert not osp.exists(first)


def test_resume_without_checkpoint_says_so(tmp_path):
    runner = Hp3dRunner.from_cfg(_cfg(
        tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1), resume=True))
    runner.train()
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'has no last_checkpoint file, so there is nothing to resume' in log
    assert runner.epoch == 1


def test_checkpoints_embed_the_current_config_text(tmp_path):
    """The config text is formatted once, but follows changes of the cfg."""
    runner = Hp3dRunner.from_cfg(
        _cfg(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=2)))
    assert runner.cfg.pretty_text is runner.cfg.pretty_text  # cached
    runner.train()
    saved = Config.fromstring(
        torch.load(osp.join(tmp_path, 'epoch_2.pth'),
                   weights_only=True)['meta']['cfg'], '.py')
    assert saved.train_cfg.max_epochs == 2
    runner.cfg.train_cfg.max_epochs = 5
    assert 'max_epochs=5' in runner.cfg.pretty_text
    assert runner.cfg.pretty_text == Config(runner.cfg.to_dict()).pretty_text


@pytest.fixture
def single_process_group_env(monkeypatch):
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(key, value)
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def test_cpu_launch_uses_gloo_and_cpu_ddp(tmp_path, single_process_group_env):
    runner = Hp3dRunner.from_cfg(_cfg(tmp_path, launcher='pytorch'))
    assert torch_dist.get_backend() == 'gloo'
    assert (runner.rank, runner.world_size) == (0, 1)
    assert isinstance(runner.model, MMDistributedDataParallel)
    assert runner.model.device_ids is None
    assert runner.model.broadcast_buffers is False


def test_slurm_variables_are_translated(single_process_group_env,
                                        monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(key)
    for key, value in dict(SLURM_PROCID='0', SLURM_NTASKS='1',
                           SLURM_LOCALID='0',
                           SLURM_NODELIST='node1').items():
        monkeypatch.setenv(key, value)
    init_cpu_dist('slurm', timeout_s=30)
    assert (torch_dist.get_rank(), torch_dist.get_world_size()) == (0, 1)


def test_missing_launcher_variables_are_named(monkeypatch):
    monkeypatch.delenv('MASTER_PORT', raising=False)
    monkeypatch.setenv('RANK', '0')
    with pytest.raises(RuntimeError, match="'MASTER_PORT'"):
        init_cpu_dist('pytorch')
    with pytest.raises(ValueError, match='mpi'):
        init_cpu_dist('mpi')


def test_slurm_master_address_from_scontrol(monkeypatch, tmp_path):
    for key, value in dict(SLURM_PROCID='0', SLURM_NTASKS='2',
                           SLURM_LOCALID='0',
                           SLURM_NODELIST='node[3-4]').items():
        monkeypatch.setenv(key, value)
    # recorded (set, then deleted: monkeypatch does not record deleting an
    # absent variable), so that the variables it exports are undone
    # afterwards; a leaked MASTER_ADDR=node3 hung later torchrun tests
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                'MASTER_PORT'):
        monkeypatch.setenv(key, '')
        monkeypatch.delenv(key)
    # no scontrol on PATH: a clear error, not the shell's text as address
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(RuntimeError, match=r"SLURM_NODELIST='node\[3-4\]' "
                       r'with scontrol .*set MASTER_ADDR'):
        _export_slurm_env()
    scontrol = tmp_path / 'scontrol'
    scontrol.write_text('#!/bin/sh\necho node3\necho node4\n')
    scontrol.chmod(0o755)
    _export_slurm_env()
    assert os.environ['MASTER_ADDR'] == 'node3'
    assert os.environ['WORLD_SIZE'] == '2'


@pytest.mark.parametrize('main', [True, False])
def test_only_the_main_process_writes_the_test_metrics_log(tmp_path,
                                                           monkeypatch, main):
    from hp3d.engine.hooks import logger_hook
    monkeypatch.setattr(logger_hook, 'is_main_process', lambda: main)
    runner = Hp3dRunner.from_cfg(_cfg(tmp_path))
    runner.test()
    written = list((tmp_path / runner.timestamp).glob('*.json'))
    if main:
        [path] = written
        assert path.name == f'{runner.timestamp}.json'
        assert set(json.loads(path.read_text())) >= {'mse'}
    else:
        assert written == []
