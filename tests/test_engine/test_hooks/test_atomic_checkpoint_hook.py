"""A checkpoint write that fails half-way leaves the last one resumable."""
import os
import os.path as osp

import pytest
import torch
from engine_toys import state_dict_of, toy_cfg
from mmengine.config import Config

from hp3d.engine import Hp3dRunner
from hp3d.engine.safe_load import load_local_checkpoint


def _runner(work_dir: str, **overrides) -> Hp3dRunner:
    cfg = toy_cfg(work_dir, val_dataloader=None, val_evaluator=None,
                  val_cfg=None, **overrides)
    return Hp3dRunner.from_cfg(Config(cfg))


def test_failed_write_keeps_previous_checkpoint_and_pointer(
        tmp_path, monkeypatch):
    work_dir = str(tmp_path)
    real_save = torch.save
    calls = []

    def save_then_crash(obj, f, *args, **kwargs):
        # The second checkpoint: write part of it, then fail as a full disk
        # or a kill would.
        calls.append(1)
        if len(calls) == 2:
            f.write(b'PK\x03\x04 partial checkpoint')
            raise OSError('No space left on device')
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, 'save', save_then_crash)
    runner = _runner(
        work_dir,
        default_hooks=dict(
            checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                            max_keep_ckpts=1)))
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    monkeypatch.undo()

    # mmengine's CheckpointHook deletes epoch_1.pth (max_keep_ckpts=1)
    # before writing epoch_2.pth: the pointer would name a deleted file.
    assert sorted(os.listdir(work_dir)) == sorted(
        [runner.timestamp, f'{runner.timestamp}.py', 'epoch_1.pth',
         'last_checkpoint'])
    pointer = open(osp.join(work_dir, 'last_checkpoint')).read()
    assert pointer == osp.join(work_dir, 'epoch_1.pth')
    checkpoint = torch.load(pointer, weights_only=True)
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (1, 5)

    resumed = _runner(work_dir, resume=True)
    resumed.train()
    assert (resumed.epoch, resumed.iter) == (3, 15)
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == [
        'epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth'
    ]
    assert all(
        torch.isfinite(t).all()
        for t in state_dict_of(osp.join(work_dir, 'epoch_3.pth')).values())


def _hook_runner(work_dir, **hook_args) -> Hp3dRunner:
    """A runner whose checkpoint hook saves every epoch with ``hook_args``."""
    return _runner(str(work_dir), default_hooks=dict(checkpoint=dict(
        type='AtomicCheckpointHook', interval=1, **hook_args)))


def test_failed_pointer_write_keeps_the_previous_pointer(tmp_path,
                                                         monkeypatch):
    real_replace = os.replace
    pointers = []

    def replace(src, dst):
        if str(dst).endswith('last_checkpoint'):
            pointers.append(dst)
            if len(pointers) == 2:
                raise OSError('No space left on device')
        real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', replace)
    with pytest.raises(OSError, match='No space left'):
        _hook_runner(tmp_path).train()
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_1.pth')
    assert not list(tmp_path.glob('*.tmp'))


def test_half_written_checkpoint_leaves_no_partial_file(tmp_path,
                                                        monkeypatch):
    from mmengine.fileio.backends import LocalBackend
    real_put = LocalBackend.put
    puts = []

    def put_half(self, obj, filepath):
        puts.append(filepath)
        if len(puts) < 2:
            return real_put(self, obj, filepath)
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise OSError('No space left on device')

    monkeypatch.setattr(LocalBackend, 'put', put_half)
    with pytest.raises(OSError, match='No space left'):
        _hook_runner(tmp_path).train()
    assert str(puts[1]).endswith('epoch_2.pth.tmp')
    assert sorted(p.name for p in tmp_path.glob('*.pth*')) == ['epoch_1.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_1.pth')


def test_outdated_checkpoints_deleted_after_saving(tmp_path):
    runner = _hook_runner(tmp_path, max_keep_ckpts=2)
    runner.train()
    assert sorted(f for f in os.listdir(tmp_path) if 'pth' in f) == [
        'epoch_2.pth', 'epoch_3.pth'
    ]
    assert list(runner.message_hub.get_info('keep_ckpt_ids')) == [2, 3]


def test_deletion_cut_by_a_kill_is_finished_on_resume(tmp_path,
                                                      monkeypatch):
    from hp3d.engine.hooks import AtomicCheckpointHook
    real_remove = AtomicCheckpointHook._remove

    def killed_before_deleting_epoch_1(self, path):
        if path.endswith('epoch_1.pth'):
            raise KeyboardInterrupt('killed after the pointer write')
        return real_remove(self, path)

    monkeypatch.setattr(AtomicCheckpointHook, '_remove',
                        killed_before_deleting_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        _hook_runner(tmp_path, max_keep_ckpts=2).train()
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_3.pth')

    resumed = _runner(str(tmp_path), resume=True,
                      train_cfg=dict(by_epoch=True, max_epochs=4),
                      default_hooks=dict(checkpoint=dict(
                          type='AtomicCheckpointHook', interval=1,
                          max_keep_ckpts=2)))
    resumed.train()
    assert resumed.epoch == 4
    # epoch_1.pth would stay forever: no later save knows of it
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'epoch_3.pth', 'epoch_4.pth']


def test_unknown_argument_is_refused_before_training(tmp_path):
    runner = _hook_runner(tmp_path, max_keep_ckpt=2)
    with pytest.raises(TypeError, match=r"unknown arguments 'max_keep_ckpt' "
                       r"\(did you mean 'max_keep_ckpts'\?\)"):
        runner.train()
    assert runner.iter == 0
    assert not list(tmp_path.glob('*.pth'))


def test_stale_partial_files_removed_at_start(tmp_path):
    stale = tmp_path / 'epoch_2.pth.tmp'
    stale.write_bytes(b'PK partial')
    unrelated = tmp_path / 'notes.tmp'
    unrelated.write_text('kept')
    _runner(str(tmp_path),
            train_cfg=dict(by_epoch=True, max_epochs=1)).train()
    assert not stale.exists()
    assert unrelated.exists()


@pytest.mark.parametrize('save_best', [None, 'mse'])
def test_validation_alone_saves_nothing(tmp_path, save_best):
    # runner.val() without training: no best checkpoint, no file backend yet
    # (mmengine's CheckpointHook raises AttributeError here with save_best,
    # which every hp3d config sets)
    hook = dict(type='AtomicCheckpointHook', interval=1, save_best=save_best,
                rule='less')
    runner = Hp3dRunner.from_cfg(Config(toy_cfg(
        str(tmp_path), default_hooks=dict(checkpoint=hook))))
    assert 'mse' in runner.val()
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.pth')]


def test_kill_while_saving_a_new_best_keeps_the_old_best(tmp_path,
                                                         monkeypatch):
    # the toy's validation MSE improves every epoch: epoch 2 saves a new best
    hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                                 save_best='mse', rule='less'))
    runner = Hp3dRunner.from_cfg(Config(toy_cfg(str(tmp_path),
                                                default_hooks=hooks)))
    real_save = runner.save_checkpoint

    def killed_at_the_second_best(out_dir, filename, *args, **kwargs):
        if filename == 'best_mse_epoch_2.pth':
            raise KeyboardInterrupt('killed while saving the new best')
        return real_save(out_dir, filename, *args, **kwargs)

    monkeypatch.setattr(runner, 'save_checkpoint', killed_at_the_second_best)
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == [
        'best_mse_epoch_1.pth', 'epoch_1.pth', 'epoch_2.pth']
    # and the old best goes once the new one is written
    monkeypatch.undo()
    resumed = Hp3dRunner.from_cfg(Config(toy_cfg(
        str(tmp_path), default_hooks=hooks, resume=True)))
    resumed.train()
    best = [f for f in os.listdir(tmp_path) if f.startswith('best_')]
    assert best == ['best_mse_epoch_3.pth']


def test_kill_before_deleting_the_old_best_heals_on_resume(tmp_path,
                                                           monkeypatch):
    from hp3d.engine.hooks import atomic_checkpoint_hook
    hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                                 save_best='mse', rule='less'))
    real_apply = atomic_checkpoint_hook._DeferredRemovals.apply

    def killed_before_deleting_the_old_best(self):
        if any(path.endswith('best_mse_epoch_1.pth')
               for _, path in self._pending):
            raise KeyboardInterrupt('killed after saving the new best')
        real_apply(self)

    monkeypatch.setattr(atomic_checkpoint_hook._DeferredRemovals, 'apply',
                        killed_before_deleting_the_old_best)
    with pytest.raises(KeyboardInterrupt):
        Hp3dRunner.from_cfg(Config(toy_cfg(
            str(tmp_path), default_hooks=hooks))).train()
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob('best_*.pth')) == [
        'best_mse_epoch_1.pth', 'best_mse_epoch_2.pth']

    # epoch_2.pth, saved again after the new best, names the old one
    Hp3dRunner.from_cfg(Config(toy_cfg(
        str(tmp_path), default_hooks=hooks, resume=True))).train()
    assert sorted(p.name for p in tmp_path.glob('best_*.pth')) == [
        'best_mse_epoch_3.pth']


def test_resume_deletes_only_in_its_own_work_dir(tmp_path):
    run_dir, other = tmp_path / 'run', tmp_path / 'elsewhere.pth'
    other.write_bytes(b'not this run\'s')
    _runner(str(run_dir), train_cfg=dict(by_epoch=True, max_epochs=1)).train()
    ckpt = run_dir / 'epoch_1.pth'
    checkpoint = load_local_checkpoint(str(ckpt))
    checkpoint['message_hub']['runtime_info'][
        'ckpt_pending_removals'] = [str(other)]
    torch.save(checkpoint, ckpt)
    _runner(str(run_dir), resume=True,
            train_cfg=dict(by_epoch=True, max_epochs=2)).train()
    assert other.exists()
    assert sorted(p.name for p in run_dir.glob('*.pth')) == [
        'epoch_1.pth', 'epoch_2.pth']
