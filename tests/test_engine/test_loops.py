"""ResumableEpochBasedTrainLoop: resumed runs equal uninterrupted runs."""
import os.path as osp

import pytest
import torch
from engine_toys import toy_cfg
from mmengine.config import Config

from hp3d.engine import Hp3dRunner, ResumableEpochBasedTrainLoop
from hp3d.engine.loops import EPOCH_KEY

# 5 iterations per epoch, 3 epochs. Checkpoints every 2 iterations
# (iter_2.pth, iter_4.pth, ...) and after every epoch, before its validation
# (plain_epoch_1.pth, ...). epoch_<e>.pth too, but the validation MSE
# improves every epoch, so save_best saves it again during the validation
# that follows (mmengine does so to record the new best score).
CHECKPOINTS = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=2,
                                   by_epoch=False))
EPOCH_CHECKPOINTS = [
    dict(type='AtomicCheckpointHook', interval=1, by_epoch=True,
         filename_tmpl='plain_epoch_{}.pth'),
    dict(type='AtomicCheckpointHook', interval=1, by_epoch=True,
         save_best='mse', rule='less'),
    dict(type='NaNGuardHook')
]


def _train(work_dir: str, **overrides) -> Hp3dRunner:
    runner = Hp3dRunner.from_cfg(
        Config(toy_cfg(work_dir, default_hooks=CHECKPOINTS, **overrides)))
    runner.train()
    return runner


def _final_state(runner: Hp3dRunner) -> dict:
    state = dict(runner.model.state_dict())
    optimizer_state = runner.optim_wrapper.optimizer.state_dict()['state']
    for i, param_state in optimizer_state.items():
        for key, value in param_state.items():
            state[f'optimizer.{i}.{key}'] = value
    return state


def _assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('uninterrupted'))
    runner = _train(work_dir, custom_hooks=EPOCH_CHECKPOINTS)
    return work_dir, _final_state(runner), runner.message_hub.get_scalar(
        'val/mse').data[0].tolist()


@pytest.mark.parametrize(
    'checkpoint',
    ['iter_6.pth', 'iter_10.pth', 'plain_epoch_2.pth', 'epoch_2.pth'],
    ids=['mid-epoch', 'last-iter-of-epoch', 'end-of-epoch',
         'saved-again-in-validation'])
def test_resume_reaches_the_uninterrupted_state(uninterrupted, tmp_path,
                                                 checkpoint):
    # mmengine's EpochBasedTrainLoop repeats the iterations of the epoch
    # (iter_*.pth: 16 or 20 iterations in all), reseeds the generators
    # (*epoch_2.pth: other dropout masks and noise, other weights) and
    # skips the validation that followed plain_epoch_2.pth.
    ref_dir, ref_state, ref_val_mse = uninterrupted
    runner = _train(
        str(tmp_path),
        resume=True,
        load_from=osp.join(ref_dir, checkpoint))
    assert isinstance(runner.train_loop, ResumableEpochBasedTrainLoop)
    assert runner.iter == 15
    _assert_identical(_final_state(runner), ref_state)
    # The message hub was resumed too: all 3 validations, same values.
    assert runner.message_hub.get_scalar(
        'val/mse').data[0].tolist() == ref_val_mse


def _with_workers(work_dir: str, **overrides) -> Hp3dRunner:
    cfg = toy_cfg(work_dir, default_hooks=CHECKPOINTS, **overrides)
    cfg['train_dataloader'].update(num_workers=2, persistent_workers=False)
    runner = Hp3dRunner.from_cfg(Config(cfg))
    runner.train()
    return runner


def test_mid_epoch_resume_with_data_workers(tmp_path):
    # the skipped batches must be loaded (not only their indices drawn): the
    # workers' augmentations follow each worker's own generator
    ref = _with_workers(str(tmp_path / 'ref'), custom_hooks=EPOCH_CHECKPOINTS)
    runner = _with_workers(str(tmp_path / 'resumed'), resume=True,
                           load_from=str(tmp_path / 'ref' / 'iter_6.pth'))
    assert runner.iter == 15
    _assert_identical(_final_state(runner), _final_state(ref))


def test_validation_does_not_change_training(uninterrupted, tmp_path):
    _, ref_state, _ = uninterrupted
    runner = _train(str(tmp_path), val_dataloader=None, val_evaluator=None,
                    val_cfg=None)
    _assert_identical(_final_state(runner), ref_state)


def test_resume_with_other_epoch_length_is_refused(uninterrupted, tmp_path):
    ref_dir, _, _ = uninterrupted
    cfg = toy_cfg(str(tmp_path), resume=True,
                  load_from=osp.join(ref_dir, 'iter_6.pth'))
    cfg['train_dataloader']['batch_size'] = 2
    runner = Hp3dRunner.from_cfg(Config(cfg))
    with pytest.raises(RuntimeError, match='an epoch has 10 iterations now'):
        runner.train()


@pytest.fixture(scope='module')
def rebatched(uninterrupted, tmp_path_factory):
    """Resumed between epochs with batch 2 (10 iterations an epoch), one
    more epoch: iterations 10-30, checkpoints every 2 of them."""
    ref_dir, _, _ = uninterrupted
    work_dir = str(tmp_path_factory.mktemp('rebatched'))
    cfg = toy_cfg(work_dir, default_hooks=CHECKPOINTS, resume=True,
                  load_from=osp.join(ref_dir, 'plain_epoch_2.pth'))
    cfg['train_dataloader']['batch_size'] = 2
    cfg['train_cfg']['max_epochs'] = 4
    runner = Hp3dRunner.from_cfg(Config(cfg))
    runner.train()
    return work_dir, cfg, runner


def test_resume_between_epochs_with_other_epoch_length(rebatched):
    # mmengine resumes such a checkpoint too; the new length applies from the
    # next epoch on (a mid-epoch one would skip the wrong batches: refused)
    work_dir, _, runner = rebatched
    assert runner.iter == 10 + 2 * 10
    assert runner.message_hub.get_info(EPOCH_KEY) == dict(
        epoch=3, start_iter=20, length=10)
    log = osp.join(work_dir, runner.timestamp, f'{runner.timestamp}.log')
    assert ('Resumed with 10 iterations per epoch instead of 5'
            in open(log).read())


@pytest.mark.parametrize('checkpoint', ['iter_24.pth', 'iter_20.pth'],
                         ids=['mid-epoch', 'last-iter-of-epoch'])
def test_resume_again_after_the_length_changed(rebatched, tmp_path,
                                               checkpoint):
    # the epochs before the change were shorter: the batches done in the
    # resumed epoch count from where it began, not from epoch * length
    work_dir, cfg, runner = rebatched
    cfg = dict(cfg, work_dir=str(tmp_path),
               load_from=osp.join(work_dir, checkpoint))
    resumed = Hp3dRunner.from_cfg(Config(cfg))
    resumed.train()
    assert resumed.iter == 30
    _assert_identical(_final_state(resumed), _final_state(runner))
