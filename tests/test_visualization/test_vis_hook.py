from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from hp3d.registry import HOOKS
from hp3d.visualization import Hand3DVisualizer, vis_hook

RUNNER = SimpleNamespace(iter=7)


def collate(image, sample, prediction, frames):
    """A batch of copies of one sample, numbered by ``frames``."""
    data_samples = {}
    for key, value in sample.items():
        if isinstance(value, str):
            data_samples[key] = [value] * len(frames)
        else:
            data_samples[key] = torch.stack(
                [torch.as_tensor(np.asarray(value))] * len(frames))
    data_samples['frame_number'] = torch.tensor(frames)
    if image is None:
        inputs = torch.zeros(len(frames), 21, 2)
    else:
        inputs = torch.stack([torch.from_numpy(image).permute(2, 0, 1)] *
                             len(frames))
    outputs = [dict(prediction, frame_number=f) for f in frames]
    return dict(inputs=inputs, data_samples=data_samples), outputs


@pytest.fixture
def visualizer(request, tmp_path):
    # The hook draws with the latest visualizer; one 3D view keeps it fast.
    return Hand3DVisualizer.get_instance(
        request.node.name, views=('top', ),
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'work'), panel_px=100, header_px=20)


@pytest.fixture
def fast_render(monkeypatch):
    """Replace the figure by a small constant image: these tests are about
    which samples the hook draws, the figure is tested elsewhere."""
    monkeypatch.setattr(Hand3DVisualizer, '_render',
                        lambda self, hand: np.full((8, 8, 3), 255, np.uint8))


def run_test_loop(hook, batches):
    hook.before_test_epoch(RUNNER)
    for batch_idx, (data_batch, outputs) in enumerate(batches):
        hook.after_test_iter(RUNNER, batch_idx, data_batch, outputs)


@pytest.mark.parametrize('pipeline', ['image_sample', 'lifting_sample'])
def test_test_mode_writes_figures(pipeline, visualizer, tmp_path, request):
    image, sample, prediction = request.getfixturevalue(pipeline)
    out_dir = tmp_path / 'show'
    hook = HOOKS.build(dict(type='Hand3DVisualizationHook', enable=True,
                            interval=1, out_dir=str(out_dir)))
    run_test_loop(hook, [collate(image, sample, prediction, [10])])
    figure = cv2.imread(str(out_dir / '0a1b2c_000010_right.png'))
    assert figure.shape == (120, 300, 3)  # GT 2D, prediction 2D, top view
    assert len(list(out_dir.iterdir())) == 1


def test_test_mode_draws_every_interval_th_sample(visualizer, fast_render,
                                                  image_sample, tmp_path):
    image, sample, prediction = image_sample
    out_dir = tmp_path / 'show'
    hook = HOOKS.build(dict(type='Hand3DVisualizationHook', enable=True,
                            interval=2, out_dir=str(out_dir)))
    run_test_loop(hook, [collate(image, sample, prediction, frames)
                         for frames in ([10, 11], [12, 13], [14])])
    assert sorted(p.name for p in out_dir.iterdir()) == [
        f'0a1b2c_{frame:06d}_right.png' for frame in (10, 12, 14)
    ]
    # A second test run counts from its own first sample again.
    run_test_loop(hook, [collate(image, sample, prediction, [20, 21])])
    assert (out_dir / '0a1b2c_000020_right.png').exists()
    assert not (out_dir / '0a1b2c_000021_right.png').exists()


def test_disabled_hook_draws_nothing_in_test(visualizer, image_sample,
                                             tmp_path):
    hook = HOOKS.build(dict(type='Hand3DVisualizationHook', enable=False,
                            interval=1, out_dir=str(tmp_path / 'show')))
    run_test_loop(hook, [collate(*image_sample, [1, 2])])
    assert not (tmp_path / 'show').exists()
    assert not (tmp_path / 'work').exists()


def test_validation_sends_the_first_samples_to_backends(visualizer,
                                                        fast_render,
                                                        lifting_sample,
                                                        tmp_path):
    hook = HOOKS.build(dict(type='Hand3DVisualizationHook', max_samples=3))
    batches = [collate(*lifting_sample, frames)
               for frames in ([1, 2], [3, 4], [5, 6])]
    for _ in range(2):  # two validations
        hook.before_val_epoch(RUNNER)
        for batch_idx, (data_batch, outputs) in enumerate(batches):
            hook.after_val_iter(RUNNER, batch_idx, data_batch, outputs)
    vis_image = tmp_path / 'work' / 'vis_data' / 'vis_image'
    assert sorted(p.name for p in vis_image.iterdir()) == [
        f'val_{i}_0a1b2c_{frame:06d}_right_7.png'
        for i, frame in enumerate((1, 2, 3))
    ]


def test_other_ranks_draw_nothing_for_the_backends(visualizer, lifting_sample,
                                                   tmp_path, monkeypatch):
    # mmengine's backends keep the main process's figures only: drawing them
    # elsewhere cost a second of CPU each for nothing
    monkeypatch.setattr(vis_hook, 'is_main_process', lambda: False)
    drawn = []
    monkeypatch.setattr(Hand3DVisualizer, 'add_datasample',
                        lambda self, *args, **kwargs: drawn.append(args[0]))
    hook = HOOKS.build(dict(type='Hand3DVisualizationHook', max_samples=2,
                            enable=True, interval=1))
    data_batch, outputs = collate(*lifting_sample, [1, 2])
    hook.before_val_epoch(RUNNER)
    hook.after_val_iter(RUNNER, 0, data_batch, outputs)
    run_test_loop(hook, [(data_batch, outputs)])
    assert drawn == []
    # with an out_dir every rank writes its own samples
    hook.out_dir = str(tmp_path / 'show')
    monkeypatch.setattr(Hand3DVisualizer, '_render',
                        lambda self, hand: np.full((8, 8, 3), 255, np.uint8))
    run_test_loop(hook, [(data_batch, outputs)])
    assert len(list((tmp_path / 'show').iterdir())) == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match='interval'):
        HOOKS.build(dict(type='Hand3DVisualizationHook', interval=0))


def test_validation_draws_every_val_interval_th_validation(visualizer,
                                                           lifting_sample,
                                                           monkeypatch):
    drawn = []
    monkeypatch.setattr(visualizer, 'add_datasample',
                        lambda name, *args, **kwargs: drawn.append(name))
    hook = HOOKS.build(dict(type='Hand3DVisualizationHook', max_samples=2,
                            val_interval=2))
    batch = collate(*lifting_sample, [1, 2, 3])
    counts = []
    for _ in range(5):
        hook.before_val_epoch(RUNNER)
        hook.after_val_iter(RUNNER, 0, *batch)
        counts.append(len(drawn))
    # validations 1, 3 and 5 draw two samples each; 2 and 4 draw nothing
    assert counts == [2, 2, 4, 4, 6]


@pytest.mark.parametrize('resume', [True, False])
def test_resumed_run_draws_in_the_same_validations(visualizer, lifting_sample,
                                                   monkeypatch, resume):
    drawn = []
    monkeypatch.setattr(visualizer, 'add_datasample',
                        lambda name, *args, **kwargs: drawn.append(name))
    cfg = dict(type='Hand3DVisualizationHook', max_samples=1, val_interval=3)
    batch = collate(*lifting_sample, [1, 2])

    def validate(hook):
        before = len(drawn)
        hook.before_val_epoch(RUNNER)
        hook.after_val_iter(RUNNER, 0, *batch)
        return len(drawn) - before

    hook = HOOKS.build(cfg)
    assert [validate(hook) for _ in range(2)] == [1, 0]
    checkpoint = dict(meta=dict(epoch=2))
    hook.before_save_checkpoint(RUNNER, checkpoint)
    assert checkpoint['meta'] == dict(epoch=2, vis_val_count=2)

    restarted = HOOKS.build(cfg)
    restarted.after_load_checkpoint(SimpleNamespace(_resume=resume),
                                    checkpoint)
    # validations 3, 4 then 1, 2 of the run; a load_from run starts afresh
    expected = [0, 1] if resume else [1, 0]
    assert [validate(restarted) for _ in range(2)] == expected
