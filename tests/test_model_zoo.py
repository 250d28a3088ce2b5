"""The model zoo: model-index.yml <-> configs/, every listed config builds."""
from pathlib import Path

import pytest
import torch
import yaml
from mmengine import Config
from mmengine.registry import init_default_scope

from hp3d.apis.model_index import REPO_ROOT, load_model_index
from hp3d.codecs.pose3d_codec import (
    DEFAULT_JOINT_STATS_FILE,
    MIRRORED_JOINT_STATS_FILE,
)
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


POTTER_CONFIGS = REPO_ROOT / 'configs' / 'potter'
POTTER_RECIPE = 'potter_poolattnformer-s12_1xb64-70e_egoexo4d-224x224'
# transforms that draw nothing: the official dataset crops at the box centre
# and scale, unrotated, unflipped, colours unchanged
DETERMINISTIC_TRANSFORMS = {'GetBBoxCenterScale', 'LoadImage', 'TopdownAffine',
                            'MirrorLeftHand', 'GenerateTarget', 'PackInputs'}


@pytest.mark.parametrize('config', [
    POTTER_CONFIGS / f'{POTTER_RECIPE}.py',
    POTTER_CONFIGS / f'{POTTER_RECIPE}-noflip.py',
    REPO_ROOT / 'configs' / 'potter_egoexo.py',
])
def test_potter_recipes_use_official_drop_rates(config):
    # official configs/potter_pose_3d_ego4d.yaml: DROP_RATE, DROP_PATH_RATE 0.1
    cfg = Config.fromfile(str(config))
    init_default_scope('hp3d')
    with torch.device('meta'):
        backbone = MODELS.build(cfg.model.backbone)
    dropouts = {m.p for m in backbone.modules()
                if isinstance(m, torch.nn.Dropout)}
    assert dropouts == {0.1}
    last_basic_block = backbone.basic_stream.network[-1][-1]
    assert last_basic_block.drop_path.drop_prob == pytest.approx(0.1)
    for blocks in backbone.hr_stream.blocks:
        assert blocks[-1].drop_path.drop_prob == pytest.approx(0.1)


def test_potter_official_data_config_trains_without_augmentation():
    cfg = Config.fromfile(str(POTTER_CONFIGS / f'{POTTER_RECIPE}-noflip.py'))
    train = cfg.train_dataloader.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    assert {t['type'] for t in train} <= DETERMINISTIC_TRANSFORMS
    assert all(t['enabled'] is False for t in train + test
               if t['type'] == 'MirrorLeftHand')
    # the test crops, skipping frames whose image cannot be read
    assert [dict(t) for t in train] == [
        dict(t, on_error='skip') if t['type'] == 'LoadImage' else dict(t)
        for t in test]


@pytest.mark.parametrize('config', sorted(POTTER_CONFIGS.glob('*.py')),
                         ids=lambda p: p.stem)
def test_potter_codec_table_fits_the_mirroring(config):
    # mirroring left hands moves the mirror-axis mean from ~0 to a right
    # hand's: the encoder and the head use the table of what they encode
    cfg = Config.fromfile(str(config))
    init_default_scope('hp3d')
    head_codec = MODELS.build(cfg.model.head).codec
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[loader].dataset.pipeline
        (mirror, ) = [t['enabled'] for t in pipeline
                      if t['type'] == 'MirrorLeftHand']
        (encoder, ) = [t['encoder'] for t in pipeline
                       if t['type'] == 'GenerateTarget']
        assert encoder == cfg.model.head.codec
        assert head_codec.stats_file == (
            MIRRORED_JOINT_STATS_FILE if mirror else DEFAULT_JOINT_STATS_FILE)
