"""Lifting end to end on synthetic data: train -> test (+ submission) -> resume."""
import json
import re

import pytest
import torch
from mmengine import Config

from hp3d.engine import Hp3dRunner
from hp3d.evaluation import evaluate_mean_pose

EPOCHS = 10
CONFIG = 'configs/lifting/lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py'


def _cfg(root, work_dir, max_epochs):
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.optim_wrapper.optimizer.lr = 2e-3
    cfg.train_dataloader.batch_size = 16
    cfg.default_hooks.logger.interval = 5
    cfg.default_hooks.visualization.max_samples = 0
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.dataset.data_root = str(root)
    return cfg


@pytest.fixture(scope='module')
def trained(synthetic_root, tmp_path_factory, train):
    return train(_cfg(synthetic_root, tmp_path_factory.mktemp('lifting'), EPOCHS))


def test_training_learns_and_keeps_the_best(trained, logged):
    runner, work_dir = trained
    mpjpe = logged(work_dir, 'egoexo4d/MPJPE')
    assert len(mpjpe) == EPOCHS
    baseline = evaluate_mean_pose(
        runner.train_dataloader.dataset.dataset.get_arrays(),
        runner.val_dataloader.dataset.dataset.get_arrays())['MPJPE']
    assert min(mpjpe) < 0.9 * baseline
    best = list(work_dir.glob('best_egoexo4d_MPJPE_epoch_*.pth'))
    assert [p.name for p in best] == [
        f'best_egoexo4d_MPJPE_epoch_{mpjpe.index(min(mpjpe)) + 1}.pth']
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith(
        f'epoch_{EPOCHS}.pth')


def test_test_writes_a_prediction_for_every_hand(trained, synthetic_root,
                                                 tmp_path):
    runner, _ = trained
    ann = synthetic_root / 'annotations/ego_pose_gt_anno_test_public.json'
    submission = tmp_path / 'preds.json'
    runner.test_evaluator.metrics[0].submission_file = str(submission)
    runner.test_evaluator.metrics[0].ann_file = str(ann)
    metrics = runner.test()
    assert metrics['egoexo4d/MPJPE'] > metrics['egoexo4d/PA-MPJPE'] > 0
    gt = json.loads(ann.read_text())
    preds = json.loads(submission.read_text())
    for take, frames in gt.items():
        for frame, record in frames.items():
            for hand in ('left', 'right'):
                has_gt = bool(record[f'{hand}_hand_3d'])
                assert bool(preds[take][frame][f'{hand}_hand_3d']) == has_gt


def test_resume_continues_from_the_last_epoch(trained, synthetic_root,
                                             tmp_path, logged):
    runner, work_dir = trained
    cfg = _cfg(synthetic_root, tmp_path, EPOCHS + 1)
    cfg.resume = True
    cfg.load_from = str(work_dir / f'epoch_{EPOCHS}.pth')
    resumed = Hp3dRunner.from_cfg(cfg)
    resumed.train()
    assert resumed.epoch == EPOCHS + 1
    assert resumed.iter == (EPOCHS + 1) * len(runner.train_dataloader)
    # only the one missing epoch was trained, from the trained weights
    assert set(logged(tmp_path, 'epoch')) == {EPOCHS + 1}
    assert logged(tmp_path, 'egoexo4d/MPJPE')[0] < logged(
        work_dir, 'egoexo4d/MPJPE')[0]
    assert (tmp_path / f'epoch_{EPOCHS + 1}.pth').is_file()


COMPILE_CONFIG = CONFIG.replace('-gt2d.py', '-gt2d-compile.py')


def _train(config, root, work_dir):
    cfg = Config.fromfile(config)
    base = _cfg(root, work_dir, max_epochs=2)
    base.train_dataloader.batch_size = 8
    base.default_hooks.logger.interval = 1
    cfg.merge_from_dict({key: base[key] for key in (
        'work_dir', 'train_cfg', 'train_dataloader', 'val_dataloader',
        'test_dataloader', 'default_hooks', 'visualizer')})
    cfg.optim_wrapper.optimizer.lr = base.optim_wrapper.optimizer.lr
    cfg.randomness = dict(seed=0)
    runner = Hp3dRunner.from_cfg(cfg)
    runner.train()
    return runner


def test_compiled_config_trains_like_the_eager_one(synthetic_root, tmp_path,
                                                   logged):
    """The -compile config (inductor, batch-last backbone, fused Adam) follows
    the eager run step for step and writes the same checkpoint keys."""
    eager = _train(CONFIG, synthetic_root, tmp_path / 'eager')
    compiled = _train(COMPILE_CONFIG, synthetic_root, tmp_path / 'compiled')
    eager_losses = logged(tmp_path / 'eager', 'loss')
    compiled_losses = logged(tmp_path / 'compiled', 'loss')
    assert compiled.model.backbone._compiled_call_impl is not None
    assert eager.model.backbone._compiled_call_impl is None
    # the training forward (backbone, head, loss) is compiled as one function
    assert 'loss' in vars(compiled.model) and 'loss' not in vars(eager.model)
    assert len(compiled_losses) == len(eager_losses) > 10
    # float32 round-off only, while the losses themselves fall by far more
    for got, want in zip(compiled_losses, eager_losses):
        assert got == pytest.approx(want, rel=1e-3)
    assert abs(eager_losses[-1] - eager_losses[0]) > 0.1 * eager_losses[0]
    state = torch.load(tmp_path / 'compiled/epoch_2.pth',
                       map_location='cpu')['state_dict']
    assert state.keys() == eager.model.state_dict().keys()


@pytest.mark.parametrize('rank', [0, 1])
def test_checkpoint_of_another_model_is_refused_for_evaluation(
        trained, synthetic_root, tmp_path, monkeypatch, rank):
    # mmengine's strict check runs on rank 0 only; hp3d checks every rank
    monkeypatch.setattr('mmengine.runner.checkpoint.get_dist_info',
                        lambda: (rank, 2))
    _, work_dir = trained
    ckpt = work_dir / f'epoch_{EPOCHS}.pth'
    cfg = _cfg(synthetic_root, tmp_path, max_epochs=1)
    cfg.model.backbone.depth = 2
    cfg.load_from = str(ckpt)
    with pytest.raises(RuntimeError, match=(
            rf'{re.escape(str(ckpt))} does not fit the model of this config'
            r'[^\n]*\n[\s\S]*unexpected key in source state_dict: '
            r'backbone\.blocks\.2\.')):
        Hp3dRunner.from_cfg(cfg).test()
    # fine-tuning from it keeps mmengine's partial loading
    runner = Hp3dRunner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 1


@pytest.mark.parametrize('action', ['val', 'resume'])
def test_checkpoint_of_another_model_is_refused_for_val_and_resume(
        trained, synthetic_root, tmp_path, action):
    _, work_dir = trained
    ckpt = work_dir / f'epoch_{EPOCHS}.pth'
    cfg = _cfg(synthetic_root, tmp_path, max_epochs=EPOCHS + 1)
    cfg.model.backbone.depth = 2
    cfg.load_from = str(ckpt)
    cfg.resume = action == 'resume'
    runner = Hp3dRunner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match=(
            rf'{re.escape(str(ckpt))} does not fit the model of this '
            'config')):
        runner.val() if action == 'val' else runner.train()


def test_runner_checks_data_before_training(synthetic_root, tmp_path):
    # the checks are wired into Hp3dRunner's loops, not only callable
    cfg = _cfg(synthetic_root, tmp_path, max_epochs=1)
    cfg.train_dataloader.dataset.dataset.ann_file = \
        'annotations/boxes/ego_pose_gt_anno_test_public.json'
    with pytest.raises(ValueError, match='train_dataloader: none of the .* '
                       'has 3D ground truth'):
        Hp3dRunner.from_cfg(cfg).train()
    cfg = _cfg(synthetic_root, tmp_path, max_epochs=1)
    cfg.train_dataloader.dataset.codec.input_mean_px = (300.0, 200.0)
    with pytest.raises(ValueError, match='train_dataloader encodes targets '
                       'with other LiftingCodec settings'):
        Hp3dRunner.from_cfg(cfg).train()
    assert not list(tmp_path.glob('*.pth'))
