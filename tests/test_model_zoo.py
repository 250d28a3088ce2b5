"""The model zoo: model-index.yml <-> configs/, every listed config builds."""
from pathlib import Path

import pytest
import torch
import yaml
from mmengine import Config
from mmengine.registry import init_default_scope

from hp3d.apis.model_index import REPO_ROOT, load_model_index
from hp3d.registry import MODELS

ENTRIES = load_model_index()
CONFIGS = sorted(p for p in (REPO_ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts)


def test_every_config_is_listed():
    listed = {entry.config.resolve() for entry in ENTRIES.values()}
    unlisted = [str(p.relative_to(REPO_ROOT)) for p in CONFIGS
                if p.resolve() not in listed]
    assert not unlisted, f'configs missing from a metafile: {unlisted}'
    assert len(CONFIGS) >= 8


@pytest.mark.parametrize('name', sorted(ENTRIES))
def test_listed_config_exists_and_builds(name):
    entry = ENTRIES[name]
    assert entry.config.is_file(), entry.config
    cfg = Config.fromfile(str(entry.config))
    init_default_scope('hp3d')
    model = MODELS.build(cfg.model)
    assert cfg.default_scope == 'hp3d'
    assert cfg.default_hooks.checkpoint.save_best == 'egoexo4d/MPJPE'
    # the backbone's parameter count is what the metafile states
    meta = yaml.safe_load(Path(entry.metafile).read_text())
    stated = {m['Name']: m.get('Metadata', {}).get('Parameters')
              for m in meta['Models']}[entry.name]
    if stated is not None:
        assert sum(p.numel() for p in model.parameters()) == stated
    assert isinstance(model, torch.nn.Module)
