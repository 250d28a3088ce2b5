"""plot_curves, get_flops and browse_dataset of tools/analysis_tools."""
import json
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from hp3d.visualization import Hand3DVisualizer

ROOT = Path(__file__).parents[2]
TOOLS = ROOT / 'tools' / 'analysis_tools'
LIFTING_SYNTHETIC = (ROOT / 'configs' / 'lifting' /
                     'lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py')


def load_tool(name):
    return runpy.run_path(str(TOOLS / f'{name}.py'), run_name=name)


# --------------------------------------------------------------- plot_curves
def write_scalar_log(path: Path, epochs: int = 3, iters_per_epoch: int = 4):
    """An mmengine scalars.json: train records every 2 iters, val per epoch."""
    lines = []
    for epoch in range(1, epochs + 1):
        for i in range(2, iters_per_epoch + 1, 2):
            step = (epoch - 1) * iters_per_epoch + i
            lines.append(dict(lr=1e-3, data_time=0.01, loss=10.0 / step,
                              loss_kpt=8.0 / step, time=0.1, epoch=epoch,
                              iter=step, memory=12, step=step))
        lines.append({'egoexo4d/MPJPE': 40.0 - epoch, 'egoexo4d/PA-MPJPE':
                      [0, 12.0, 11.0, 11.5][epoch], 'data_time': 0.01,
                      'time': 0.1, 'step': epoch})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')


def test_plot_curves_reads_train_and_val_series(tmp_path):
    tool = load_tool('plot_curves')
    log = tmp_path / 'work' / '20250101_000000' / 'vis_data' / 'scalars.json'
    write_scalar_log(log)
    assert tool['find_scalar_logs'](str(tmp_path / 'work')) == [str(log)]
    train, val = tool['load_scalars'](str(log))
    steps, loss = train['loss']
    np.testing.assert_array_equal(steps, [2, 4, 6, 8, 10, 12])
    np.testing.assert_allclose(loss, 10.0 / steps)
    np.testing.assert_array_equal(val['egoexo4d/MPJPE'][1], [39, 38, 37])
    assert tool['default_keys'](train, val) == [
        'loss', 'loss_kpt', 'egoexo4d/MPJPE', 'egoexo4d/PA-MPJPE']
    # A 2-point trailing mean: the first point is kept as it is.
    np.testing.assert_allclose(tool['smooth'](np.array([1., 3., 5.]), 2),
                               [1., 2., 4.])


def _run_log(work, stamp, text=''):
    """A run dir's scalar log path; its mmengine text log says ``text``."""
    (work / stamp).mkdir(parents=True)
    (work / stamp / f'{stamp}.log').write_text(text)
    return work / stamp / 'vis_data' / 'scalars.json'


def test_plot_curves_merges_the_runs_of_a_resumed_work_dir(tmp_path):
    tool = load_tool('plot_curves')
    work = tmp_path / 'work'
    # a fresh run in the same work dir before: not part of the history
    stale = _run_log(work, '20241231_000000')
    write_scalar_log(stale, epochs=3)
    first = _run_log(work, '20250101_000000')
    resumed = _run_log(work, '20250101_010000',
                       'INFO - resumed epoch: 1, iter: 4\n')
    write_scalar_log(first, epochs=2)
    write_scalar_log(resumed, epochs=3)
    # the resumed run (from epoch 1's checkpoint) logged epochs 2 and 3,
    # with other losses than the first run's epoch 2
    records = [json.loads(line)
               for line in resumed.read_text().splitlines()[3:]]
    for record in records:
        if 'loss' in record:
            record['loss'] += 100
    resumed.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    logs = tool['find_scalar_logs'](str(tmp_path / 'work'))
    assert logs == [str(first), str(resumed)]
    train, val = tool['load_scalars'](logs)
    steps, loss = train['loss']
    np.testing.assert_array_equal(steps, [2, 4, 6, 8, 10, 12])
    # epoch 1 from the first run, the rest from the resumed one
    np.testing.assert_allclose(loss, 10.0 / steps + [0, 0, 100, 100, 100, 100])
    np.testing.assert_array_equal(val['egoexo4d/MPJPE'][0], [1, 2, 3])


def test_plot_curves_writes_a_png(tmp_path):
    tool = load_tool('plot_curves')
    for run in ('run_a', 'run_b'):
        write_scalar_log(tmp_path / run / '20250101_000000' / 'vis_data' /
                         'scalars.json')
    out = tmp_path / 'curves.png'
    tool['main']([str(tmp_path / 'run_a'), str(tmp_path / 'run_b'),
                  '--out', str(out), '--smooth', '2'])
    image = cv2.imread(str(out))
    # Three panels (train loss, two metrics) in one row at 110 dpi.
    assert image.shape == (int(4.0 * 110), int(15.0 * 110), 3)
    assert image.std() > 0
    with pytest.raises(KeyError, match='no_such_key'):
        tool['main']([str(tmp_path / 'run_a'), '--keys', 'no_such_key',
                      '--out', str(out)])


def plotted_figure(monkeypatch, tool, argv):
    """Run plot_curves' main and return the figure it saved."""
    from matplotlib.figure import Figure
    saved = []
    savefig = Figure.savefig

    def record(fig, *args, **kwargs):
        saved.append(fig)
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, 'savefig', record)
    tool['main'](argv)
    return saved[-1]


def panel_of(fig, title):
    return next(ax for ax in fig.axes if ax.get_title() == title)


def test_plot_curves_stars_the_highest_accuracy(tmp_path, monkeypatch):
    tool = load_tool('plot_curves')
    log = tmp_path / 'scalars.json'
    lines = [dict(loss=1.0, epoch=e, iter=e, step=e) for e in (1, 2, 3)]
    lines += [{'egoexo4d/PCK@20mm': pck, 'egoexo4d/AUC': pck / 2,
               'egoexo4d/MPJPE': 30 - 10 * pck, 'kpt2d/AP': pck,
               'kpt2d/custom': pck, 'step': e}
              for e, pck in zip((1, 2, 3), (0.2, 0.4, 0.6))]
    log.write_text('\n'.join(json.dumps(line) for line in lines))
    fig = plotted_figure(monkeypatch, tool, [
        str(log), '--out', str(tmp_path / 'c.png'),
        '--greater-is-better', 'kpt2d/custom'])
    for key, best in [('egoexo4d/PCK@20mm', 0.6), ('egoexo4d/AUC', 0.3),
                      ('kpt2d/AP', 0.6), ('kpt2d/custom', 0.6),
                      ('egoexo4d/MPJPE', 24)]:
        legend = panel_of(fig, f'val {key}').get_legend().get_texts()
        assert legend[0].get_text() == f'scalars.json (best {best:g} at 3)'
    assert tool['is_greater_better']('egoexo4d/x', ['egoexo4d/x'])
    for accuracy in ('kpt2d/AP50', 'kpt2d/AP@0.5', 'kpt2d/AR', 'a/PCK@5mm'):
        assert tool['is_greater_better'](accuracy)
    for error in ('egoexo4d/PA-MPJPE', 'egoexo4d/MPJPE/ARX', 'x/APE'):
        assert not tool['is_greater_better'](error)


def test_plot_curves_labels_the_val_axis_by_its_unit(tmp_path, monkeypatch):
    tool = load_tool('plot_curves')
    by_epoch = tmp_path / 'by_epoch' / 'scalars.json'
    write_scalar_log(by_epoch)
    by_iter = tmp_path / 'by_iter' / 'scalars.json'
    # log_metric_by_epoch=False: validation steps are iterations 4, 8, 12.
    by_iter.parent.mkdir()
    by_iter.write_text(''.join(
        json.dumps(dict(line, step=line['step'] * 4)
                   if 'iter' not in line else line) + '\n'
        for line in map(json.loads, by_epoch.read_text().splitlines())))
    out = str(tmp_path / 'c.png')
    for logs, label in [([by_epoch], 'epoch'), ([by_iter], 'iteration'),
                        ([by_epoch, by_iter], 'epoch / iteration')]:
        fig = plotted_figure(monkeypatch, tool,
                             [*map(str, logs), '--out', out])
        assert panel_of(fig, 'val egoexo4d/MPJPE').get_xlabel() == label
    # Iteration-based runs log no train epoch; no train records: unknown.
    train, val = tool['load_scalars'](str(by_iter))
    del train['epoch']
    assert tool['val_step_unit'](train, val) == 'iteration'
    assert tool['val_step_unit']({}, val) == 'step'


# ----------------------------------------------------------------- get_flops
class TinyConvNet(nn.Module):
    """Conv 3->4 (3x3, no bias) on 8x8, then Linear 256->5."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class FusedAttention(nn.Module):

    def forward(self, q):
        k = torch.ones(1, 2, 6, 4)
        v = torch.ones(1, 2, 6, 3)
        return F.scaled_dot_product_attention(q, k, v)


class BatchedProduct(torch.nn.Module):
    """``baddbmm`` of (B, 3, 4) inputs with a (4, 5) weight."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(4, 5))

    def forward(self, x):
        bias = x.new_zeros(x.shape[0], 3, 5)
        return torch.baddbmm(bias, x, self.weight.expand(x.shape[0], 4, 5))


def test_get_flops_counts_macs_by_hand():
    tool = load_tool('get_flops')
    result = tool['model_complexity'](TinyConvNet(), torch.randn(1, 3, 8, 8),
                                      per_module=True)
    # conv: 8*8 outputs * 4 channels * (3*3*3) MACs; fc: 256 * 5.
    assert result['macs'] == 8 * 8 * 4 * 27 + 256 * 5
    assert result['params'] == 4 * 27 + 256 * 5 + 5
    assert 'conv' in result['table'] and 'fc' in result['table']
    # Fused attention: 2 heads * 5 queries * 6 keys * (4 + 3).
    attention = tool['model_complexity'](FusedAttention(),
                                         torch.ones(1, 2, 5, 4))
    assert attention['macs'] == 2 * 5 * 6 * (4 + 3)
    assert attention['unsupported_ops'] == {}
    # baddbmm (POTTER's fast path): 2 batches * (3 x 4) @ (4 x 5)
    product = tool['model_complexity'](BatchedProduct(), torch.ones(2, 3, 4))
    assert product['macs'] == 2 * 3 * 4 * 5
    assert product['unsupported_ops'] == {}


def test_get_flops_input_shape_rule():
    tool = load_tool('get_flops')
    image_cfg = Config(dict(model=dict(type='X'), test_dataloader=dict(
        dataset=dict(pipeline=[dict(type='LoadImage'), dict(
            type='TopdownAffine', input_size=(192, 256))]))))
    assert tool['input_shape'](image_cfg, TinyConvNet()) == (1, 3, 256, 192)
    image_cfg.codec = dict(input_size=(224, 224))
    assert tool['input_shape'](image_cfg, TinyConvNet()) == (1, 3, 224, 224)
    keypoint_cfg = Config(dict(model=dict(backbone=dict(num_joints=17))))
    assert tool['input_shape'](keypoint_cfg, nn.Linear(2, 2)) == (1, 17, 2)
    with pytest.raises(ValueError, match='--shape'):
        tool['input_shape'](Config(dict(model=dict())), TinyConvNet())


def test_get_flops_on_the_lifting_config():
    tool = load_tool('get_flops')
    # One block keeps the trace short; the rest of the config is as shipped.
    result = tool['main']([str(LIFTING_SYNTHETIC), '--per-module',
                           '--cfg-options', 'model.backbone.depth=1'])
    assert result['params'] > 0 and result['macs'] > result['params']
    assert result['unsupported_ops'].get(tool['SDPA_OP']) is None
    assert 'backbone.blocks.0' in result['table']
    assert 'backbone.blocks.1' not in result['table']


# ------------------------------------------------------------ browse_dataset
@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    from hp3d.datasets.synthetic.generate import generate_dataset
    root = tmp_path_factory.mktemp('synthetic')
    generate_dataset(str(root), num_takes=3, frames_per_take=2,
                     progress=False)
    return root


def image_config(path: Path, data_root: Path) -> Path:
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', input_size=(128, 128)),
        dict(type='TopdownAffine', input_size=(128, 128)),
        dict(type='MirrorLeftHand'),
        dict(type='PackInputs'),
    ]
    cfg = Config(dict(
        default_scope='hp3d',
        visualizer=dict(type='Hand3DVisualizer', views=['top'],
                        panel_px=120, header_px=30),
        val_dataloader=dict(dataset=dict(
            type='EgoExo4DHandDataset', data_root=str(data_root),
            ann_file='annotations/ego_pose_gt_anno_val_public.json',
            pipeline=pipeline, test_mode=True))))
    cfg.dump(str(path))
    return path


@pytest.mark.parametrize('mode, image_shape', [('transformed', (128, 128, 3)),
                                               ('original', (512, 512, 3))])
def test_browse_dataset_writes_image_samples(mode, image_shape, tmp_path,
                                             synthetic_root, monkeypatch):
    tool = load_tool('browse_dataset')
    config = image_config(tmp_path / 'cfg.py', synthetic_root)
    drawn = []
    add_datasample = Hand3DVisualizer.add_datasample

    def spy(self, name, image, *args, **kwargs):
        drawn.append(image.shape)
        return add_datasample(self, name, image, *args, **kwargs)

    monkeypatch.setattr(Hand3DVisualizer, 'add_datasample', spy)
    written = tool['main']([str(config), '--split', 'val', '-n', '2',
                            '--mode', mode, '--out-dir', str(tmp_path / 'o')])
    # the crop the model gets, or the whole frame
    assert drawn == [image_shape] * 2
    assert len(written) == 2
    assert sorted(p.name for p in (tmp_path / 'o').iterdir()) == sorted(
        Path(p).name for p in written)
    assert Path(written[0]).name.startswith('00000_')
    # GT 2D on the crop (or frame), one 3D view.
    assert cv2.imread(written[0]).shape == (150, 240, 3)


def test_browse_dataset_lifting_config(tmp_path, synthetic_root):
    tool = load_tool('browse_dataset')
    written = tool['main']([
        str(LIFTING_SYNTHETIC), '--split', 'val', '-n', '1', '--shuffle',
        '--out-dir', str(tmp_path), '--cfg-options',
        f'val_dataloader.dataset.dataset.data_root={synthetic_root}/',
        'visualizer.panel_px=100', 'visualizer.header_px=20'
    ])
    # 2D on the blank frame region, then front, side and top views.
    assert cv2.imread(written[0]).shape == (120, 400, 3)


# -------------------------------------------------------------- print_config
def test_print_config_merges_bases_and_options(tmp_path, capsys):
    out = tmp_path / 'merged.py'
    compile_cfg = LIFTING_SYNTHETIC.with_name(
        LIFTING_SYNTHETIC.stem + '-compile.py')
    assert load_tool('print_config')['main']([
        str(compile_cfg), '--cfg-options', 'train_cfg.max_epochs=5',
        'optim_wrapper.optimizer.lr=0.001', '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    want = Config.fromfile(str(compile_cfg))
    want.merge_from_dict({'train_cfg.max_epochs': 5,
                          'optim_wrapper.optimizer.lr': 0.001})
    # one self-contained config: no _base_ left, the values of every level
    assert '_base_' not in printed and 'max_epochs=5' in printed
    assert "impl='cpu_kernel'" in printed  # the -compile config's own
    assert 'LiftingTensorDataset' in printed  # from its dataset base
    assert Config.fromfile(str(out)).to_dict() == want.to_dict()
    printed_file = tmp_path / 'printed.py'
    printed_file.write_text(printed)
    assert Config.fromfile(str(printed_file)).to_dict() == want.to_dict()
