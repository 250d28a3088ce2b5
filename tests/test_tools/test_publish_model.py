"""tools/model_converters/publish_model.py: weights and meta, hashed name."""
import hashlib
import importlib.util
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from engine_toys import TOOLS_DIR, toy_cfg
from mmengine.config import Config

from hp3d.engine import Hp3dRunner
from hp3d.engine.safe_load import load_local_checkpoint


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'hp3d_tools_publish_model',
        osp.join(TOOLS_DIR, 'model_converters', 'publish_model.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The last epoch checkpoint of a toy run (optimizer, schedulers and
    message hub included)."""
    work_dir = tmp_path_factory.mktemp('toy_run')
    Hp3dRunner.from_cfg(Config(toy_cfg(str(work_dir)))).train()
    return str(work_dir / 'epoch_3.pth')


def test_keeps_weights_and_meta_under_a_hashed_name(trained, tmp_path,
                                                    capsys):
    tool = _load_tool()
    assert tool.main([trained, str(tmp_path / 'out' / 'toy.pth')]) == 0
    [name] = os.listdir(tmp_path / 'out')  # no temporary file left
    match = re.fullmatch(r'toy-([0-9a-f]{8})\.pth', name)
    assert match
    final = tmp_path / 'out' / name
    assert match.group(1) == hashlib.sha256(
        final.read_bytes()).hexdigest()[:8]
    assert f'-> {final}' in capsys.readouterr().out

    original = load_local_checkpoint(trained)
    assert {'optimizer', 'message_hub', 'param_schedulers'} <= set(original)
    published = load_local_checkpoint(str(final))
    assert set(published) == {'state_dict', 'meta'}
    np.testing.assert_equal(published['meta'], original['meta'])  # arrays
    assert published['state_dict'].keys() == original['state_dict'].keys()
    for key, value in original['state_dict'].items():
        assert torch.equal(published['state_dict'][key], value)
    assert final.stat().st_size < osp.getsize(trained)


def test_refuses_a_file_without_weights(tmp_path):
    bad = tmp_path / 'not_a_run.pth'
    torch.save({'model': {'w': torch.ones(2)}}, bad)
    with pytest.raises(ValueError, match=r"not_a_run.pth: no `state_dict` "
                       r"of tensors \(top-level keys: \['model'\]\)"):
        _load_tool().publish(str(bad), str(tmp_path / 'out.pth'))
    assert not (tmp_path / 'out.pth').exists()
    torch.save(torch.ones(2), bad)
    with pytest.raises(ValueError, match='not_a_run.pth: holds a Tensor'):
        _load_tool().publish(str(bad), str(tmp_path / 'out.pth'))
    assert os.listdir(tmp_path) == ['not_a_run.pth']  # nothing written
