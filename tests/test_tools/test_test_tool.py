"""tools/test.py: command line merging into the config."""
import pytest
from engine_toys import toy_cfg
from mmengine.config import Config

from hp3d.datasets import EgoExo4DHandDataset


def _merge(test_script, tmp_path, *argv, **overrides) -> Config:
    cfg = Config(toy_cfg(str(tmp_path), **overrides))
    args = test_script.parse_args(['cfg.py', 'model.pth', *argv])
    return test_script.merge_args(cfg, args)


def test_checkpoint_is_loaded_and_runner_is_hp3d(test_script, tmp_path):
    cfg = _merge(test_script, tmp_path)
    assert cfg.load_from == 'model.pth'
    assert cfg.runner_type == 'Hp3dRunner'
    assert cfg.test_evaluator == dict(type='EngineToyMetric')


def test_dump_submission_reaches_every_metric_that_takes_it(
        test_script, tmp_path):
    cfg = _merge(test_script, tmp_path, '--dump-submission', 'preds.json',
                 test_evaluator=dict(type='EgoExo4DHandMetric'))
    assert cfg.test_evaluator == dict(type='EgoExo4DHandMetric',
                                      submission_file='preds.json')
    cfg = _merge(test_script, tmp_path, '--dump-submission', 'preds.json',
                 test_evaluator=[dict(type='EngineToyMetric'),
                                 dict(type='EgoExo4DHandMetric')])
    assert cfg.test_evaluator == [
        dict(type='EngineToyMetric'),
        dict(type='EgoExo4DHandMetric', submission_file='preds.json')
    ]


def test_dump_submission_without_a_taker_is_an_error(test_script, tmp_path):
    with pytest.raises(ValueError, match="takes `submission_file`"):
        _merge(test_script, tmp_path, '--dump-submission', 'preds.json')


def test_out_appends_dump_results(test_script, tmp_path):
    cfg = _merge(test_script, tmp_path, '--out', 'results.pkl')
    assert cfg.test_evaluator == [
        dict(type='EngineToyMetric'),
        dict(type='DumpResults', out_file_path='results.pkl')
    ]
    with pytest.raises(ValueError, match='.pkl'):
        _merge(test_script, tmp_path, '--out', 'results.json')


def test_show_dir_enables_the_visualization_hook(test_script, tmp_path):
    hooks = dict(visualization=dict(type='Hand3DVisualizationHook',
                                    enable=False, interval=50))
    cfg = _merge(test_script, tmp_path, '--show-dir', 'vis', '--interval',
                 '5', default_hooks=hooks)
    assert cfg.default_hooks.visualization == dict(
        type='Hand3DVisualizationHook', enable=True, interval=5,
        out_dir='vis')
    with pytest.raises(ValueError, match='Hand3DVisualizationHook'):
        _merge(test_script, tmp_path, '--show-dir', 'vis')


def test_cfg_options_are_merged_before_the_flags(test_script, tmp_path):
    # mmpose's order: the flags win, and apply to the merged config
    cfg = _merge(test_script, tmp_path, '--work-dir', 'w', '--cfg-options',
                 'work_dir=v', 'test_dataloader.batch_size=5')
    assert cfg.work_dir == 'w'
    assert cfg.test_dataloader.batch_size == 5
    cfg = _merge(test_script, tmp_path, '--out', 'r.pkl', '--cfg-options',
                 'test_evaluator.prefix=foo')
    assert cfg.test_evaluator == [
        dict(type='EngineToyMetric', prefix='foo'),
        dict(type='DumpResults', out_file_path='r.pkl')
    ]


def test_interval_needs_show_dir(test_script, tmp_path):
    with pytest.raises(ValueError, match='--show-dir'):
        _merge(test_script, tmp_path, '--interval', '5')


def test_dump_submission_covers_every_annotated_hand(test_script, tmp_path):
    # the lifting configs wrap the annotation dataset
    dataset = dict(type='LiftingTensorDataset',
                   dataset=dict(type='EgoExo4DHandDataset', data_root='data/x',
                                ann_file='annotations/test.json'))
    test_dataloader = dict(batch_size=2, dataset=dataset,
                           sampler=dict(type='DefaultSampler', shuffle=False))
    cfg = _merge(test_script, tmp_path, '--dump-submission', 'preds.json',
                 test_dataloader=test_dataloader,
                 test_evaluator=dict(type='EgoExo4DHandMetric'))
    assert cfg.test_dataloader.dataset.dataset.min_valid_joints == 0
    # a dataset type given as a class
    by_class = dict(test_dataloader, dataset=dict(
        dataset, dataset=dict(dataset['dataset'], type=EgoExo4DHandDataset)))
    cfg = _merge(test_script, tmp_path, '--dump-submission', 'preds.json',
                 test_dataloader=by_class,
                 test_evaluator=dict(type='EgoExo4DHandMetric'))
    assert cfg.test_dataloader.dataset.dataset.min_valid_joints == 0
    assert cfg.test_evaluator == dict(
        type='EgoExo4DHandMetric', submission_file='preds.json',
        ann_file='data/x/annotations/test.json')
    # an annotation file named by the config or the command line stays
    cfg = _merge(test_script, tmp_path, '--dump-submission', 'preds.json',
                 '--cfg-options', 'test_evaluator.ann_file=other.json',
                 test_dataloader=test_dataloader,
                 test_evaluator=dict(type='EgoExo4DHandMetric'))
    assert cfg.test_evaluator.ann_file == 'other.json'
    # without --dump-submission nothing changes
    cfg = _merge(test_script, tmp_path, test_dataloader=test_dataloader,
                 test_evaluator=dict(type='EgoExo4DHandMetric'))
    assert 'min_valid_joints' not in cfg.test_dataloader.dataset.dataset
    assert 'ann_file' not in cfg.test_evaluator
