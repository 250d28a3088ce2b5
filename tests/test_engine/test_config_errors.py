import pytest
from mmengine.registry import init_default_scope

from hp3d.engine import (
    explain_unknown_type,
    registered_names,
    unknown_types_explained,
)
from hp3d.registry import MODELS, TRANSFORMS


def _error(registry, cfg):
    init_default_scope('hp3d')
    with pytest.raises(KeyError) as info:
        registry.build(cfg)
    return info.value


def test_typo_gets_the_closest_registered_names():
    error = explain_unknown_type(_error(MODELS, dict(type='PoseTransfomer')))
    message = str(error.args[0])
    assert "Unknown type 'PoseTransfomer' in the hp3d::model registry" in message
    assert 'PoseTransformer' in message.split('closest registered names:')[1]


def test_names_come_from_the_registry_and_its_parents():
    names = registered_names(TRANSFORMS)
    assert 'TopdownAffine' in names  # hp3d
    assert 'LoadImageFromFile' in names  # mmcv, registered in mmengine's root


def test_no_close_name_points_at_custom_imports():
    error = explain_unknown_type(_error(TRANSFORMS, dict(type='Zzzzqqq')))
    assert 'custom_imports' in str(error.args[0])


def test_other_key_errors_pass_through():
    error = KeyError('target')
    assert explain_unknown_type(error) is error


def test_wrong_argument_names_the_component():
    init_default_scope('hp3d')
    with pytest.raises(TypeError, match='PoseTransformer.*depht'):
        MODELS.build(dict(type='PoseTransformer', depht=3))


def test_context_explains_unknown_types_and_passes_other_key_errors():
    with pytest.raises(KeyError, match='closest registered names: '
                       '.*PoseTransformer') as info:
        with unknown_types_explained():
            raise _error(MODELS, dict(type='PoseTransfomer'))
    assert 'is not in the hp3d::model registry' in str(info.value.__cause__)
    other = KeyError('not a registry message')
    with pytest.raises(KeyError) as info:
        with unknown_types_explained():
            raise other
    assert info.value is other and info.value.__cause__ is None


def test_misspelt_top_level_keys_are_warned_about(tmp_path):
    from engine_toys import toy_cfg
    from mmengine.config import Config

    from hp3d.engine import Hp3dRunner
    from hp3d.engine.config_errors import near_misses

    known = ('load_from', 'param_scheduler', 'work_dir')
    assert near_misses(['load_form', 'param_schedulers', 'train_pipeline',
                        'load_from', 'codec'], known) == {
                            'load_form': 'load_from',
                            'param_schedulers': 'param_scheduler'}
    runner = Hp3dRunner.from_cfg(Config(dict(
        toy_cfg(str(tmp_path)), load_form='x.pth', codec=dict(type='C'))))
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert "The config sets 'load_form', which nothing reads: did you mean " \
        "'load_from'?" in log
    # the config's own variables are not taken for typos
    assert "The config sets 'codec'" not in log
    assert runner.cfg.load_form == 'x.pth'
