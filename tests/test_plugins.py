"""Components registered out of tree are usable from configs via custom_imports."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.registry import init_default_scope

from hp3d.registry import METRICS, MODELS, TRANSFORMS

PLUGIN_DIR = Path(__file__).parent / 'data' / 'plugins'


@pytest.fixture
def plugin_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    config = tmp_path / 'plugin_config.py'
    config.write_text(
        "_base_ = ['{}']\n"
        "custom_imports = dict(imports=['hp3d_demo_plugin'],\n"
        "                      allow_failed_imports=False)\n"
        "model = dict(head=dict(type='ScaledRegressionHead', scale=2.0,\n"
        "                       loss=dict(type='HuberLoss', beta=0.5)))\n"
        "val_evaluator = [dict(type='EgoExo4DHandMetric'),\n"
        "                 dict(type='CountHands')]\n".format(
            Path('configs/pose_transformer_egoexo.py').resolve()))
    yield config
    sys.modules.pop('hp3d_demo_plugin', None)


def test_plugin_components_build_from_config(plugin_config):
    cfg = Config.fromfile(str(plugin_config))  # imports custom_imports
    init_default_scope('hp3d')
    model = MODELS.build(cfg.model)
    assert type(model.head).__name__ == 'ScaledRegressionHead'
    assert type(model.head.loss_module).__name__ == 'HuberLoss'
    assert model.head.loss_module.beta == 0.5
    feats = torch.randn(2, 21, 32)
    torch.testing.assert_close(model.head(feats), 2.0 * model.head.fc(feats))
    metric = METRICS.build(cfg.val_evaluator[1])
    metric.process(None, [{}, {}, {}])
    assert metric.compute_metrics(metric.results) == dict(hands=3)
    shift = TRANSFORMS.build(dict(type='AddOffset2D', offset_px=3.0))
    out = shift(dict(keypoints_2d=np.zeros((21, 2))))
    np.testing.assert_array_equal(out['keypoints_2d'], 3.0)


def test_unknown_type_names_the_registry():
    init_default_scope('hp3d')
    with pytest.raises(KeyError, match='HuberLoss2 is not in the'):
        MODELS.build(dict(type='HuberLoss2'))
