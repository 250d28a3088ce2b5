"""Weights-only checkpoint loading: the allow-list and the refusal path."""
import argparse
import os
import os.path as osp
import pickle
import zipfile

import numpy as np
import pytest
import torch
from engine_toys import toy_cfg
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
from mmengine.registry import PARAM_SCHEDULERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from hp3d.engine import (
    SAFE_GLOBALS,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    load_local_checkpoint,
)
from hp3d.engine.safe_load import checkpoint_getattr


@pytest.fixture(scope='module')
def mmengine_checkpoint(tmp_path_factory) -> str:
    """A checkpoint written by mmengine's own Runner and CheckpointHook.

    Optimizer with state, two param schedulers, message hub with logged
    scalars and numpy metric values, save_best, dataset_meta with an array.
    """
    work_dir = str(tmp_path_factory.mktemp('mmengine_ckpt'))
    cfg = toy_cfg(
        work_dir,
        runner_type='Runner',
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            save_best='mse', rule='less')),
        custom_hooks=[])
    Runner.from_cfg(Config(cfg)).train()
    return osp.join(work_dir, 'epoch_2.pth')


def test_mmengine_checkpoint_needs_exactly_the_allow_list(
        mmengine_checkpoint):
    needed = set(_globals_without_allow_list(mmengine_checkpoint))
    # Every global the checkpoint names is allow-listed, and nothing beyond
    # the numpy family and HistoryBuffer's getattr is.
    assert needed == {
        'mmengine.logging.history_buffer.HistoryBuffer', 'builtins.getattr',
        'numpy._core.multiarray._reconstruct',
        'numpy._core.multiarray.scalar', 'numpy.ndarray', 'numpy.dtype'
    }
    checkpoint = torch.load(mmengine_checkpoint, weights_only=True)
    history = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(history, HistoryBuffer)
    assert len(history.data[0]) == 10  # 2 epochs x 5 iterations
    assert checkpoint['meta']['epoch'] == 2
    assert checkpoint['optimizer']['state'][0]['step'] == 10
    assert checkpoint['meta']['dataset_meta']['input_scale'].tolist() == [
        1.0, 1.0, 1.0, 1.0
    ]


def _globals_without_allow_list(path: str):
    """The globals torch would refuse without hp3d's registrations."""
    allowed = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    finally:
        torch.serialization.add_safe_globals(allowed)


def test_mmengine_checkpoint_resumes_through_mmengine(mmengine_checkpoint,
                                                       tmp_path):
    cfg = toy_cfg(
        str(tmp_path),
        runner_type='Runner',
        load_from=mmengine_checkpoint,
        resume=True,
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1),
        custom_hooks=[])
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    # Resumed after 2 epochs (10 iterations), trained the third only.
    assert (runner.epoch, runner.iter) == (3, 15)
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 15


class _ShellPayload:
    """Runs ``touch marker`` when unpickled by an unrestricted unpickler."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_code_executing_checkpoint_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=_ShellPayload(str(marker))), path)

    offending = f'{os.system.__module__}.{os.system.__name__}'
    for load in (load_local_checkpoint, _load_checkpoint):
        with pytest.raises(UnsafeCheckpointError) as err:
            load(path, map_location='cpu')
        assert path in str(err.value)
        assert f'`{offending}`' in str(err.value)
        assert 'weights_only=False' not in str(err.value)
    assert not marker.exists()


def test_getattr_is_limited_to_the_allowed_attributes(tmp_path):
    assert checkpoint_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    assert (checkpoint_getattr, 'builtins.getattr') in SAFE_GLOBALS
    assert getattr not in SAFE_GLOBALS
    with pytest.raises(UnsafeCheckpointError, match='HistoryBuffer'):
        checkpoint_getattr(HistoryBuffer, '__init__')
    with pytest.raises(UnsafeCheckpointError):
        checkpoint_getattr(OneCycleParamScheduler, 'step')

    class EscapeToBuiltins:
        # getattr(getattr, '__self__') is the builtins module: eval, exec...
        def __reduce__(self):
            return getattr, (getattr, '__self__')

    path = str(tmp_path / 'escape.pth')
    torch.save(dict(meta=EscapeToBuiltins()), path)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        load_local_checkpoint(path)


@pytest.mark.parametrize('strategy', ['cos', 'linear'])
def test_one_cycle_scheduler_state_loads(tmp_path, strategy):
    # its state holds getattr(OneCycleParamScheduler, '_annealing_<strategy>')
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    state = PARAM_SCHEDULERS.build(dict(
        type='OneCycleLR', optimizer=optimizer, eta_max=1e-3, total_steps=10,
        anneal_strategy=strategy)).state_dict()
    path = str(tmp_path / 'one_cycle.pth')
    torch.save(dict(param_schedulers=[state]), path)
    loaded = load_local_checkpoint(path)['param_schedulers'][0]
    assert loaded['anneal_func'] is getattr(OneCycleParamScheduler,
                                            f'_annealing_{strategy}')
    assert loaded['total_steps'] == 10


def test_timm_checkpoint_with_args_loads(tmp_path):
    # timm's train.py saves its argparse.Namespace next to the state dict
    path = str(tmp_path / 'timm.pth.tar')
    torch.save(dict(state_dict=dict(w=torch.ones(2)), epoch=299,
                    args=argparse.Namespace(model='poolattnformer_s12',
                                            lr=1e-3, sched='cosine')), path)
    checkpoint = load_local_checkpoint(path)
    assert checkpoint['args'].model == 'poolattnformer_s12'
    assert checkpoint['args'].lr == 1e-3
    assert torch.equal(checkpoint['state_dict']['w'], torch.ones(2))


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        load_local_checkpoint(str(tmp_path / 'nothing.pth'))


def test_refusal_is_an_unpickling_error():
    # Callers catching torch's own error type keep working.
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)


@pytest.fixture
def weights_file(tmp_path) -> str:
    """A checkpoint of two tensors, 64 KiB of weights."""
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {'w': torch.arange(16384.0),
                               'b': torch.ones(3)}}, path)
    return path


def _damage(path: str, offset: int, data: bytes) -> None:
    with open(path, 'r+b') as f:
        f.seek(offset)
        f.write(data)


def test_damaged_checkpoints_are_named_and_described(weights_file, tmp_path):
    size = os.path.getsize(weights_file)
    with open(weights_file, 'rb') as f:
        whole = f.read()
    empty, truncated, html = (str(tmp_path / name) for name in
                              ('empty.pth', 'truncated.pth', 'page.pth'))
    open(empty, 'wb').close()
    with open(truncated, 'wb') as f:
        f.write(whole[:size // 2])
    with open(html, 'wb') as f:
        f.write(b'<html><body>404 Not Found</body></html>')
    with pytest.raises(CorruptCheckpointError, match=rf'{empty} is empty'):
        load_local_checkpoint(empty)
    with pytest.raises(CorruptCheckpointError,
                       match=rf'{truncated} \({size // 2} bytes\) is '
                       'truncated'):
        load_local_checkpoint(truncated)
    with pytest.raises(CorruptCheckpointError,
                       match=rf"{html} is not a PyTorch checkpoint: it starts "
                       r"with b'<html><b'"):
        load_local_checkpoint(html)
    # bytes changed inside the weights: the file still parses, the CRC fails
    _damage(weights_file, whole.index(torch.arange(16384.0)[1000:1001]
                                      .numpy().tobytes()), b'\0\0\0\0')
    with pytest.raises(CorruptCheckpointError,
                       match=rf'{weights_file} \({size} bytes\) is damaged: '
                       'Bad CRC-32'):
        load_local_checkpoint(weights_file)


def test_checkpoints_without_crc_and_legacy_ones_load(tmp_path):
    from torch.utils.serialization import config
    weights = {'w': torch.arange(5.0)}
    no_crc, legacy = str(tmp_path / 'no_crc.pth'), str(tmp_path / 'old.pth')
    config.save.compute_crc32 = False
    try:
        torch.save(weights, no_crc)
    finally:
        config.save.compute_crc32 = True
    torch.save(weights, legacy, _use_new_zipfile_serialization=False)
    for path in (no_crc, legacy):
        torch.testing.assert_close(load_local_checkpoint(path), weights)


def _name(entry) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


def test_allow_list_is_exactly_these_globals():
    # a widened list (builtins.exec, eval...) would let a pickle run code
    assert {_name(entry) for entry in SAFE_GLOBALS} == {
        'mmengine.logging.history_buffer.HistoryBuffer',
        'mmengine.optim.scheduler.param_scheduler.OneCycleParamScheduler',
        'argparse.Namespace', 'builtins.getattr',
        'numpy._core.multiarray._reconstruct', 'numpy.core.multiarray.'
        '_reconstruct', 'numpy._core.multiarray.scalar',
        'numpy.core.multiarray.scalar', 'numpy.ndarray', 'numpy.dtype',
        *(f'numpy.dtypes.{type(np.dtype(name)).__name__}' for name in (
            'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
            'uint32', 'uint64', 'float16', 'float32', 'float64')),
    }


class _ExecPayload:

    def __reduce__(self):
        return exec, ('raise SystemExit("ran")', )


def test_exec_payload_is_refused(tmp_path):
    path = str(tmp_path / 'exec.pth')
    torch.save(dict(meta=_ExecPayload()), path)
    with pytest.raises(UnsafeCheckpointError, match='the global `exec`'):
        load_local_checkpoint(path)


def test_getattr_allows_each_owner_only_its_own_names():
    assert checkpoint_getattr(OneCycleParamScheduler, '_annealing_cos') is \
        OneCycleParamScheduler._annealing_cos
    # a name allowed for one class is not allowed for another
    with pytest.raises(UnsafeCheckpointError):
        checkpoint_getattr(OneCycleParamScheduler, 'mean')
    with pytest.raises(UnsafeCheckpointError):
        checkpoint_getattr(np.ndarray, 'max')


def test_numpy_1_checkpoints_load(tmp_path):
    # numpy 1 pickles name numpy.core.multiarray._reconstruct; numpy 2
    # renamed the package to numpy._core
    path = str(tmp_path / 'numpy1.pth')
    torch.save({'meta': {'scale': np.arange(3.0)}}, path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info)
                   for info in archive.infolist()}
    pickled = next(name for name in members if name.endswith('data.pkl'))
    assert b'numpy._core.multiarray' in members[pickled]
    members[pickled] = members[pickled].replace(b'numpy._core.multiarray',
                                                b'numpy.core.multiarray')
    with zipfile.ZipFile(path, 'w') as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    np.testing.assert_array_equal(
        load_local_checkpoint(path)['meta']['scale'], np.arange(3.0))
