"""FlatAdam: Adam's updates and state, one buffer for all parameters."""
import copy
import os.path as osp

import pytest
import torch
from engine_toys import toy_cfg
from mmengine.config import Config
from torch import nn

from hp3d.engine import FlatAdam, Hp3dRunner


def _model() -> nn.Module:
    torch.manual_seed(0)
    # odd sizes: the buffer's vector tails fall inside parameters
    return nn.Sequential(nn.Linear(7, 13), nn.LayerNorm(13), nn.GELU(),
                         nn.Linear(13, 3))


def _set_grads(models, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for params in zip(*(m.parameters() for m in models)):
        grad = torch.randn(params[0].shape, generator=generator)
        for p in params:
            p.grad = grad.clone()


def _steps(models, optimizers, seeds) -> None:
    for seed in seeds:
        _set_grads(models, seed)
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad()


def _assert_same(a: nn.Module, b: nn.Module, exact: bool = True) -> None:
    for (name, x), y in zip(a.named_parameters(), b.parameters()):
        _assert_equal(x, y, exact, name)


def _assert_equal(x, y, exact: bool, what) -> None:
    if exact:
        assert torch.equal(x, y), what
    else:
        # the fused update rounds the tensor tails that fill no vector
        # register differently: a last-bit difference
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-9, msg=str(what))


def _assert_same_state(a: dict, b: dict, exact: bool = True) -> None:
    assert a['param_groups'] == b['param_groups']
    assert a['state'].keys() == b['state'].keys()
    for i, state in a['state'].items():
        assert state.keys() == b['state'][i].keys()
        for key, value in state.items():
            _assert_equal(value, b['state'][i][key], exact, (i, key))


ARGS = [dict(lr=1e-2, fused=True), dict(lr=1e-2),
        dict(lr=1e-2, weight_decay=0.1, amsgrad=True, fused=True),
        dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)]


@pytest.mark.parametrize('kwargs', ARGS,
                         ids=['fused', 'default', 'amsgrad-l2', 'adamw'])
def test_updates_and_state_are_adams(kwargs):
    ref, flat = _model(), _model()
    adam = torch.optim.Adam(ref.parameters(), **kwargs)
    flat_adam = FlatAdam(flat.parameters(), **kwargs)
    _steps((ref, flat), (adam, flat_adam), range(6))
    exact = not kwargs.get('fused')
    _assert_same(ref, flat, exact)
    _assert_same_state(adam.state_dict(), flat_adam.state_dict(), exact)
    # the parameters live in one buffer, the model is otherwise unchanged
    addresses = [p.data_ptr() for p in flat.parameters()]
    assert addresses == sorted(addresses)
    assert flat.state_dict().keys() == ref.state_dict().keys()


@pytest.mark.parametrize('direction', ['Adam->FlatAdam', 'FlatAdam->Adam'])
def test_state_dicts_interchange_with_adam(direction):
    kwargs = dict(lr=1e-2, weight_decay=0.1, amsgrad=True)
    ref = _model()
    adam = torch.optim.Adam(ref.parameters(), **kwargs)
    first, second = (torch.optim.Adam, FlatAdam)
    if direction == 'FlatAdam->Adam':
        first, second = second, first
    model = _model()
    before = first(model.parameters(), **kwargs)
    _steps((ref, model), (adam, before), range(3))
    saved = copy.deepcopy(before.state_dict())
    resumed_model = copy.deepcopy(model)
    after = second(resumed_model.parameters(), **kwargs)
    after.load_state_dict(saved)
    _steps((ref, resumed_model), (adam, after), range(3, 6))
    _assert_same(ref, resumed_model)
    _assert_same_state(adam.state_dict(), after.state_dict())


def test_step_without_gradients_is_skipped():
    model = _model()
    optimizer = FlatAdam(model.parameters(), lr=1e-2)
    _steps((model, ), (optimizer, ), [0])
    weights = copy.deepcopy(model.state_dict())
    state = copy.deepcopy(optimizer.state_dict())
    optimizer.step()  # zero_grad left no gradient: NaNGuardHook's case
    assert all(torch.equal(v, model.state_dict()[k])
               for k, v in weights.items())
    _assert_same_state(state, optimizer.state_dict())


def test_refuses_what_it_cannot_update_exactly():
    model = _model()
    with pytest.raises(ValueError, match='parameter groups'):
        FlatAdam([dict(params=model.parameters())], lr=1e-2)
    with pytest.raises(ValueError, match='one dtype and device'):
        FlatAdam([nn.Parameter(torch.zeros(2)),
                  nn.Parameter(torch.zeros(2, dtype=torch.float64))])

    optimizer = FlatAdam(model.parameters(), lr=1e-2)
    _set_grads((model, ), 0)
    model[0].bias.grad = None
    with pytest.raises(ValueError, match=r'parameters \[1\] have no gradient'):
        optimizer.step()

    _set_grads((model, ), 0)
    model[3].weight.data = model[3].weight.data.clone()
    with pytest.raises(RuntimeError,
                       match=r"parameter 4 \(3, 13\) no longer lives"):
        optimizer.step()


def _run(work_dir: str, optimizer: str, **overrides) -> Hp3dRunner:
    # the toy config's AdamW, as Adam with decoupled weight decay
    cfg = toy_cfg(work_dir, default_hooks=dict(checkpoint=dict(
        type='AtomicCheckpointHook', interval=2, by_epoch=False)),
        optim_wrapper=dict(optimizer=dict(
            type=optimizer, lr=0.01, weight_decay=0.01,
            decoupled_weight_decay=True)), **overrides)
    runner = Hp3dRunner.from_cfg(Config(cfg))
    runner.train()
    return runner


def test_runs_and_resumes_as_adam_with_skipped_nan_steps(tmp_path):
    # toy iterations 3 and 7 get NaN inputs: NaNGuardHook drops the
    # gradients of all parameters and the step is skipped
    nan = dict(model=dict(type='EngineToyModel', nan_at_iters=[3, 7]),
               custom_hooks=[dict(type='NaNGuardHook', action='skip')])
    ref = _run(str(tmp_path / 'adam'), 'Adam', **nan)
    flat = _run(str(tmp_path / 'flat'), 'FlatAdam', **nan)
    assert isinstance(flat.optim_wrapper.optimizer, FlatAdam)
    _assert_same(ref.model, flat.model)
    _assert_same_state(ref.optim_wrapper.optimizer.state_dict(),
                       flat.optim_wrapper.optimizer.state_dict())
    # a FlatAdam run resumed from the Adam run's mid-epoch checkpoint
    resumed = _run(str(tmp_path / 'resumed'), 'FlatAdam', resume=True,
                   load_from=osp.join(str(tmp_path / 'adam'), 'iter_6.pth'),
                   **nan)
    assert resumed.iter == ref.iter
    _assert_same(ref.model, resumed.model)
