"""tools/train.py: command line merging; killed runs resume exactly."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from engine_toys import TOOLS_DIR, subprocess_env, toy_cfg, write_toy_config
from mmengine.config import Config

# The toy trains 3 epochs of 5 iterations; checkpoints every 3 iterations
# (iter_3.pth ... iter_15.pth), most of them inside an epoch.
CHECKPOINTS = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=3,
                                   by_epoch=False))
TRAIN = osp.join(TOOLS_DIR, 'train.py')


def _args(train_script, *argv):
    return train_script.parse_args(['cfg.py', *argv])


def _cfg(tmp_path, **overrides) -> Config:
    return Config(toy_cfg(str(tmp_path), **overrides))


def test_work_dir_defaults_to_config_name(train_script, tmp_path):
    cfg = _cfg(tmp_path)
    cfg.work_dir = None
    train_script.merge_args(cfg, train_script.parse_args(['a/b/my_cfg.py']))
    assert cfg.work_dir == osp.join('./work_dirs', 'my_cfg')
    cfg = train_script.merge_args(
        _cfg(tmp_path), _args(train_script, '--work-dir', 'w'))
    assert cfg.work_dir == 'w'


def test_resume_without_path_resumes_from_work_dir(train_script, tmp_path):
    cfg = train_script.merge_args(
        _cfg(tmp_path, load_from='pretrained.pth'),
        _args(train_script, '--resume'))
    assert cfg.resume is True and cfg.load_from is None
    cfg = train_script.merge_args(
        _cfg(tmp_path), _args(train_script, '--resume', 'x.pth'))
    assert cfg.resume is True and cfg.load_from == 'x.pth'


def test_amp_switches_the_optim_wrapper(train_script, tmp_path,
                                        monkeypatch):
    monkeypatch.setattr(train_script, 'get_device', lambda: 'cpu')
    with pytest.raises(ValueError, match='--amp needs a GPU'):
        train_script.merge_args(_cfg(tmp_path), _args(train_script, '--amp'))
    monkeypatch.setattr(train_script, 'get_device', lambda: 'cuda')
    cfg = train_script.merge_args(_cfg(tmp_path),
                                  _args(train_script, '--amp'))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=1.0)
    custom = _cfg(tmp_path, optim_wrapper=dict(type='MyWrapper'))
    with pytest.raises(ValueError, match='MyWrapper'):
        train_script.merge_args(custom, _args(train_script, '--amp'))


def test_cfg_options_are_merged_before_the_flags(train_script, tmp_path,
                                                 monkeypatch):
    monkeypatch.setattr(train_script, 'get_device', lambda: 'cuda')
    cfg = train_script.merge_args(
        _cfg(tmp_path),
        _args(train_script, '--amp', '--no-validate', '--cfg-options',
              'optim_wrapper.loss_scale=512', 'train_cfg.max_epochs=9'))
    assert cfg.optim_wrapper.loss_scale == 512
    assert cfg.train_cfg.max_epochs == 9
    assert cfg.val_cfg is None and cfg.val_evaluator is None
    assert cfg.launcher == 'none'
    # the flags check the merged config
    cfg = train_script.merge_args(
        _cfg(tmp_path), _args(train_script, '--auto-scale-lr', '--cfg-options',
                              'auto_scale_lr.base_batch_size=32'))
    assert cfg.auto_scale_lr == dict(base_batch_size=32, enable=True)


def test_runner_defaults_to_hp3d_runner(train_script, tmp_path):
    raw = toy_cfg(str(tmp_path))
    del raw['runner_type']
    cfg = Config(raw)
    train_script.merge_args(cfg, _args(train_script))
    assert cfg.runner_type == 'Hp3dRunner'


def _start_train(config, work_dir, *extra, preload=None):
    """tools/train.py in a subprocess; ``preload`` runs before it."""
    argv = [TRAIN, config, '--work-dir', work_dir, *extra]
    if preload is None:
        cmd = [sys.executable, *argv]
    else:
        cmd = [sys.executable, '-c',
               f'{preload}\nimport runpy, sys\nsys.argv = {argv!r}\n'
               f'runpy.run_path({TRAIN!r}, run_name="__main__")']
    return subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _run_train(config, work_dir, *extra) -> None:
    proc = _start_train(config, work_dir, *extra)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]


def _kill_when(proc: subprocess.Popen, marker: str) -> None:
    deadline = time.monotonic() + 240
    while not osp.exists(marker):
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, 'the run never reached the marker'
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _final(work_dir: str) -> dict:
    """Weights, optimizer state and validation history of the last save."""
    checkpoint = torch.load(
        osp.join(work_dir, 'iter_15.pth'), weights_only=True)
    state = {f'model.{k}': v for k, v in checkpoint['state_dict'].items()}
    for i, param in checkpoint['optimizer']['state'].items():
        state.update({f'optim.{i}.{k}': v for k, v in param.items()})
    val = checkpoint['message_hub']['log_scalars']['val/mse'].data[0]
    return dict(state=state, val_mse=val.tolist())


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """The uninterrupted run."""
    root = tmp_path_factory.mktemp('reference')
    config = write_toy_config(
        str(root / 'toy.py'), str(root), default_hooks=CHECKPOINTS)
    _run_train(config, str(root / 'run'))
    return config, _final(str(root / 'run'))


def _assert_same_run(final: dict, ref: dict) -> None:
    assert final['val_mse'] == ref['val_mse']
    assert final['state'].keys() == ref['state'].keys()
    for key, value in ref['state'].items():
        assert torch.equal(final['state'][key], value), key


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(
        reference, tmp_path):
    config, ref = reference
    work_dir, marker = str(tmp_path / 'run'), str(tmp_path / 'at_iter_8')
    paused = write_toy_config(
        str(tmp_path / 'paused.py'), work_dir, default_hooks=CHECKPOINTS,
        custom_hooks=[dict(type='NaNGuardHook'),
                      dict(type='EngineToyPauseHook', at_iter=8,
                           marker=marker)])
    _kill_when(_start_train(paused, work_dir), marker)
    # Killed in epoch 2 after 8 iterations; iter_6.pth is the last save.
    assert open(osp.join(work_dir, 'last_checkpoint')).read().endswith(
        'iter_6.pth')

    _run_train(config, work_dir, '--resume')
    _assert_same_run(_final(work_dir), ref)


# Writes half of the 3rd checkpoint (iter_9), then waits to be killed.
HANG_IN_THIRD_WRITE = '''
import time
from mmengine.fileio.backends import local_backend
real_put, writes = local_backend.LocalBackend.put, []
def put(self, obj, filepath):
    writes.append(filepath)
    if len(writes) == 3:
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        open({marker!r}, 'w').close()
        time.sleep(600)
    return real_put(self, obj, filepath)
local_backend.LocalBackend.put = put
'''


def test_sigkill_during_checkpoint_write_then_resume(reference, tmp_path):
    config, ref = reference
    work_dir, marker = str(tmp_path / 'run'), str(tmp_path / 'writing')
    proc = _start_train(config, work_dir,
                        preload=HANG_IN_THIRD_WRITE.format(marker=marker))
    _kill_when(proc, marker)

    files = sorted(f for f in os.listdir(work_dir) if 'iter_' in f)
    assert files == ['iter_3.pth', 'iter_6.pth', 'iter_9.pth.tmp']
    pointer = open(osp.join(work_dir, 'last_checkpoint')).read()
    assert pointer.endswith('iter_6.pth')
    assert torch.load(pointer, weights_only=True)['meta']['iter'] == 6

    _run_train(config, work_dir, '--resume')
    assert not osp.exists(osp.join(work_dir, 'iter_9.pth.tmp'))
    _assert_same_run(_final(work_dir), ref)


def test_unknown_type_names_the_closest_registered_ones(train_script,
                                                         tmp_path):
    config = write_toy_config(str(tmp_path / 'typo.py'), str(tmp_path),
                              model=dict(type='EngineToyModle'))
    with pytest.raises(KeyError, match="'EngineToyModle'.*closest registered "
                       'names: .*EngineToyModel'):
        train_script.main([config])


def test_the_process_group_is_destroyed_after_training(train_script,
                                                       tmp_path, monkeypatch):
    # left to interpreter shutdown, gloo aborted some successful torchrun
    # ranks (docs/reliability.md); the runner is dropped first
    calls = []
    monkeypatch.setattr(train_script, 'destroy_dist',
                        lambda: calls.append('destroyed'))
    config = write_toy_config(str(tmp_path / 'toy.py'), str(tmp_path),
                              train_cfg=dict(by_epoch=True, max_epochs=1))
    train_script.main([config])
    assert calls == ['destroyed']
