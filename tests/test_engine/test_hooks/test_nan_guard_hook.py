"""NaNGuardHook: a NaN at iteration k never reaches weights or checkpoints."""
import os.path as osp

import numpy as np
import pytest
import torch
from engine_toys import toy_cfg
from mmengine.config import Config

from hp3d.engine import Hp3dRunner, NaNGuardHook
from hp3d.engine.hooks import nan_guard_hook

# Global iteration (0-based) whose inputs are NaN: epoch 2, batch 3.
NAN_ITER = 7


def _runner(work_dir: str, action: str, nan_at_iters=(NAN_ITER, ),
            **guard) -> Hp3dRunner:
    cfg = toy_cfg(
        work_dir,
        model=dict(type='EngineToyModel', nan_at_iters=nan_at_iters),
        # A checkpoint after every iteration: the NaN iteration would be
        # saved right away if it got through.
        default_hooks=dict(
            checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                            by_epoch=False)),
        custom_hooks=[dict(type='NaNGuardHook', action=action, **guard)],
        val_dataloader=None, val_evaluator=None, val_cfg=None)
    return Hp3dRunner.from_cfg(Config(cfg))


def _all_finite(obj) -> bool:
    """Every tensor, array and float anywhere in ``obj`` is finite."""
    if isinstance(obj, torch.Tensor):
        return not obj.is_floating_point() or bool(torch.isfinite(obj).all())
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind != 'f' or bool(np.isfinite(obj).all())
    if isinstance(obj, (float, np.floating)):
        return bool(np.isfinite(obj))
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_all_finite(v) for v in obj)
    if hasattr(obj, 'data') and isinstance(getattr(obj, 'data'), tuple):
        return _all_finite(obj.data)  # HistoryBuffer
    return True


def test_stop_raises_naming_the_iteration_before_any_save(tmp_path):
    runner = _runner(str(tmp_path), 'stop')
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    assert 'epoch 2, iter 8 (batch 3 of the epoch)' in str(err.value)
    assert 'non-finite gradients' in str(err.value)

    last = open(osp.join(tmp_path, 'last_checkpoint')).read()
    assert osp.basename(last) == f'iter_{NAN_ITER}.pth'
    assert not osp.exists(osp.join(tmp_path, f'iter_{NAN_ITER + 1}.pth'))
    assert _all_finite(torch.load(last, weights_only=True))
    # The faulty update never reached the parameters in memory either.
    assert all(
        torch.isfinite(p).all() for p in runner.model.parameters())


def test_skip_drops_the_faulty_update_and_finishes(tmp_path):
    runner = _runner(str(tmp_path), 'skip')
    runner.train()
    assert runner.iter == 15
    checkpoint = torch.load(
        osp.join(tmp_path, 'iter_15.pth'), weights_only=True)
    # Weights, BatchNorm statistics, optimizer state, logged scalars.
    assert _all_finite(checkpoint)
    # 15 iterations, 14 optimizer updates.
    assert checkpoint['optimizer']['state'][0]['step'] == 14
    logged_losses = checkpoint['message_hub']['log_scalars']['train/loss']
    assert len(logged_losses.data[0]) == 14
    # The BatchNorm statistics of the skipped forward were rolled back.
    assert checkpoint['state_dict']['norm.num_batches_tracked'] == 14


def test_skip_stops_after_too_many_skips_in_a_row(tmp_path):
    runner = _runner(str(tmp_path), 'skip', nan_at_iters=(7, 8, 9),
                     max_consecutive_skips=2)
    with pytest.raises(FloatingPointError,
                       match='in 3 consecutive iterations at epoch 2, '
                       'iter 10'):
        runner.train()
    # The skipped iterations left no trace in the last checkpoint.
    last = open(osp.join(tmp_path, 'last_checkpoint')).read()
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint['optimizer']['state'][0]['step'] == 7
    assert _all_finite(checkpoint)


def test_isolated_skips_do_not_add_up(tmp_path):
    # three faults, never two in a row: each streak of one is reset by the
    # finite iteration after it
    runner = _runner(str(tmp_path), 'skip', nan_at_iters=(3, 7, 11),
                     max_consecutive_skips=1)
    runner.train()
    assert runner.iter == 15
    last = open(osp.join(tmp_path, 'last_checkpoint')).read()
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint['optimizer']['state'][0]['step'] == 12
    assert _all_finite(checkpoint)


def test_a_fault_on_another_process_stops_this_one(tmp_path, monkeypatch):
    # DDP: another rank logged a NaN at iteration 5 (its gradients, being
    # all-reduced, were finite here): this rank must stop with it
    calls = []

    def all_reduce(value, op):
        assert op == 'max'
        calls.append(float(value))
        if len(calls) == 5:
            value.fill_(1.0)

    monkeypatch.setattr(nan_guard_hook, 'is_distributed', lambda: True)
    monkeypatch.setattr(nan_guard_hook, 'all_reduce', all_reduce)
    runner = _runner(str(tmp_path), 'stop', nan_at_iters=())
    with pytest.raises(FloatingPointError,
                       match='a non-finite value on another process at '
                       'epoch 1, iter 5'):
        runner.train()
    assert calls == [0.0] * 5


def test_action_is_checked():
    with pytest.raises(ValueError, match="'stop', 'skip'"):
        NaNGuardHook(action='ignore')


@pytest.mark.parametrize('bad, finite', [
    (None, True),
    # the largest finite values: their squares overflow (a 2-norm is inf)
    ('huge', True),
    (float('inf'), False),
    (float('-inf'), False),
    (float('nan'), False),
])
# GradScaler's check for dense floating-point tensors, norms for the others
@pytest.mark.parametrize('layout', [
    'float32', 'two dtypes', 'half', 'complex', 'requires grad'])
def test_gradient_check_is_exact(bad, finite, layout):
    from hp3d.engine.hooks.nan_guard_hook import _all_finite
    dtype = dict(half=torch.float16, complex=torch.complex64).get(
        layout, torch.float32)
    grads = [torch.randn(5, 3).to(dtype), torch.zeros(0),
             torch.randn(7).to(dtype)]
    if layout == 'two dtypes':
        grads.append(torch.zeros(3, dtype=torch.float64))
    huge = 6e4 if dtype == torch.float16 else 3e38
    if bad is not None:
        grads[2][4] = huge if bad == 'huge' else bad
        grads[0][1, 2] = huge
    if layout == 'requires grad':  # e.g. after backward(create_graph=True)
        grads = [g.requires_grad_() for g in grads]
    assert _all_finite(grads) is finite


def test_gradient_check_leaves_values_unchanged():
    from hp3d.engine.hooks.nan_guard_hook import _all_finite
    values = [0.0, -0.0, 1e-45, -1e-40, 3e38, 1.0 / 3.0]
    grads = [torch.tensor(values), torch.tensor(values, dtype=torch.float64),
             torch.tensor(values, dtype=torch.bfloat16)]
    before = [g.clone() for g in grads]
    assert _all_finite(grads)
    for g, b in zip(grads, before):
        # bitwise: signed zeros and subnormals included
        assert g.view(torch.uint8).tolist() == b.view(torch.uint8).tolist()
