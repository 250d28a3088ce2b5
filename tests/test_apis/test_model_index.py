from pathlib import Path

import numpy as np
import pytest
from inference_toys import LIFTING_CONFIG, hand_2d_px
from mmengine.config import Config

from hp3d.apis import (
    Hand3DInferencer,
    ImageInferencer,
    LiftingInferencer,
    inferencer_class,
    list_models,
    load_model_index,
    resolve_model,
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def index_file(tmp_path) -> Path:
    """A repository layout: a glob import, two metafiles, three models."""
    config = f'_base_ = [{str(LIFTING_CONFIG)!r}]\n'
    _write(tmp_path / 'configs/lifting/lift_a.py', config)
    _write(tmp_path / 'configs/lifting/lift_b.py', config)
    _write(tmp_path / 'configs/lifting/metafile.yml', '''
Models:
  - Name: lifting_pose-transformer-d32l4_egoexo4d
    Config: configs/lifting/lift_a.py
    Weights: checkpoints/lift_a.pth
  - Name: lifting_pose-transformer-d64l8_egoexo4d
    Config: configs/lifting/lift_b.py
''')
    _write(tmp_path / 'configs/potter/metafile.yml', '''
Models:
  - Name: potter_s12_egoexo4d
    Config: configs/potter/potter.py
    Weights: https://example.org/potter.pth
''')
    return _write(tmp_path / 'model-index.yml',
                  'Import:\n  - configs/**/metafile.yml\n')


def test_names_resolve_to_config_and_weights(index_file):
    root = index_file.parent
    config, weights = resolve_model('lifting_pose-transformer-d32l4_egoexo4d',
                                    index_file)
    assert config == root / 'configs/lifting/lift_a.py'
    assert weights == str(root / 'checkpoints/lift_a.pth')
    # names are case-insensitive; a model may have no weights
    config, weights = resolve_model('LIFTING_pose-transformer-d64l8_EgoExo4D',
                                    index_file)
    assert config == root / 'configs/lifting/lift_b.py' and weights is None
    entries = load_model_index(index_file)
    assert entries['potter_s12_egoexo4d'].weights == (
        'https://example.org/potter.pth')
    assert list_models(index_file) == [
        'lifting_pose-transformer-d32l4_egoexo4d',
        'lifting_pose-transformer-d64l8_egoexo4d', 'potter_s12_egoexo4d'
    ]


def test_config_paths_resolve_from_cwd_or_the_repository_root(
        index_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / 'configs')
    assert resolve_model('lifting/lift_a.py', index_file) == (
        (tmp_path / 'configs/lifting/lift_a.py').resolve(), None)
    assert resolve_model('configs/lifting/lift_b.py', index_file) == (
        (tmp_path / 'configs/lifting/lift_b.py').resolve(), None)
    with pytest.raises(FileNotFoundError, match='missing.py not found'):
        resolve_model('configs/missing.py', index_file)


def test_unknown_names_list_close_ones(index_file):
    with pytest.raises(ValueError) as err:
        resolve_model('lifting_pose-transformer_egoexo4d', index_file)
    message = str(err.value)
    assert 'lifting_pose-transformer-d32l4_egoexo4d' in message
    assert 'lifting_pose-transformer-d64l8_egoexo4d' in message
    assert 'Close names' in message
    with pytest.raises(ValueError, match='Known names: lifting'):
        resolve_model('zzz', index_file)


def test_missing_config_of_a_listed_model_names_its_metafile(index_file):
    with pytest.raises(FileNotFoundError, match=r'potter/metafile.yml'):
        resolve_model('potter_s12_egoexo4d', index_file)


def test_duplicate_names_are_an_error(index_file):
    _write(index_file.parent / 'configs/extra/metafile.yml', '''
Models:
  - Name: Potter_S12_EgoExo4D
    Config: configs/lifting/lift_a.py
''')
    with pytest.raises(ValueError, match='appears in both'):
        load_model_index(index_file)


def test_inferencer_loads_a_model_by_name_with_the_index_weights(
        index_file, lifting_ckpt, lifting_cfg):
    # the metafile's relative Weights point at the checkpoint
    target = index_file.parent / 'checkpoints/lift_a.pth'
    target.parent.mkdir()
    target.write_bytes(Path(lifting_ckpt).read_bytes())
    by_name = Hand3DInferencer('lifting_pose-transformer-d32l4_egoexo4d',
                               index_file=index_file)
    by_path = Hand3DInferencer(str(LIFTING_CONFIG), str(lifting_ckpt))
    keypoints = hand_2d_px()
    np.testing.assert_array_equal(
        by_name(keypoints)['predictions'][0]['keypoints_3d_rel_mm'],
        by_path(keypoints)['predictions'][0]['keypoints_3d_rel_mm'])


def test_every_model_of_the_repository_index_resolves_to_a_pipeline():
    names = list_models()
    assert {'potter_egoexo', 'pose_transformer_egoexo'} <= set(names)
    for name in names:
        config, _ = resolve_model(name)
        assert config.is_file()
        expected = (ImageInferencer if name.startswith('potter') else
                    LiftingInferencer)
        assert inferencer_class(Config.fromfile(str(config))) is expected
