"""tools/test.py: command line merging into the config."""
import pytest
from engine_toys import toy_cfg
from mmengine.config import Config


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


def test_cfg_options_are_merged_last(test_script, tmp_path):
    cfg = _merge(test_script, tmp_path, '--work-dir', 'w', '--cfg-options',
                 'work_dir=v', 'test_dataloader.batch_size=5')
    assert cfg.work_dir == 'v'
    assert cfg.test_dataloader.batch_size == 5
