"""tools/deployment/export_onnx.py: both models, one file for batches 1 and 3.
"""
import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mmengine.config import Config

from hp3d.apis import init_model
from hp3d.apis.model_index import REPO_ROOT

LIFTING_CONFIG = REPO_ROOT / 'configs' / 'pose_transformer_egoexo.py'
COMPILE_CONFIG = REPO_ROOT / 'configs' / 'lifting' / (
    'lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d-compile.py')
# POTTER at one block per stage, narrow, 64x64 crops: exports in seconds.
TINY_POTTER_CONFIG = REPO_ROOT / 'tests' / 'test_apis' / 'data' / (
    'tiny_potter.py')
ATOL = 1e-4


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'hp3d_tools_export_onnx',
        REPO_ROOT / 'tools' / 'deployment' / 'export_onnx.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _export(config: Path, tmp_path: Path, seed: int, extra=()):
    """Random weights saved as a checkpoint, exported with --check."""
    torch.manual_seed(seed)
    cfg = Config.fromfile(str(config))
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': init_model(cfg).state_dict()}, ckpt)
    onnx_file = tmp_path / 'model.onnx'
    code = _load_tool().main([
        str(config), str(ckpt), '--out', str(onnx_file), '--check', *extra
    ])
    model = init_model(cfg, str(ckpt))
    session = ort.InferenceSession(str(onnx_file),
                                   providers=['CPUExecutionProvider'])
    return code, model, session


def test_lifting_model_with_validity_input(tmp_path, capsys):
    code, model, session = _export(LIFTING_CONFIG, tmp_path, seed=5)
    assert code == 0
    assert 'max abs diff' in capsys.readouterr().out
    assert [i.name for i in session.get_inputs()] == ['inputs',
                                                      'input_weight']
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        inputs = rng.normal(size=(batch, 21, 2)).astype(np.float32)
        weight = (rng.random((batch, 21)) > 0.3).astype(np.float32)
        got, = session.run(None, dict(inputs=inputs, input_weight=weight))
        with torch.no_grad():
            expected = model(torch.from_numpy(inputs),
                             dict(input_weight=torch.from_numpy(weight)),
                             mode='tensor').numpy()
        assert got.shape == (batch, 21, 3)
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
        # the graph masks invalid joints as attention keys: moving them
        # leaves the valid joints' outputs as they were
        moved = inputs + 5.0 * (1.0 - weight)[..., None]
        got_moved, = session.run(None, dict(inputs=moved,
                                            input_weight=weight))
        valid = weight > 0
        np.testing.assert_allclose(got_moved[valid], got[valid], rtol=0,
                                   atol=ATOL)
        assert np.abs(got_moved[~valid] - got[~valid]).max() > 1e-3


def test_lifting_model_with_the_cpu_kernel(tmp_path, capsys):
    """The -compile config's backbone runs its attention in a C++ kernel on
    CPU; the export traces the same weights in standard attention ops."""
    code, model, session = _export(COMPILE_CONFIG, tmp_path, seed=5)
    assert code == 0
    assert model.backbone.impl == 'cpu_kernel'  # the reference below
    assert "impl='fused' (the config trains with 'cpu_kernel'" in \
        capsys.readouterr().out
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(3, 21, 2)).astype(np.float32)
    weight = (rng.random((3, 21)) > 0.3).astype(np.float32)
    got, = session.run(None, dict(inputs=inputs, input_weight=weight))
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs),
                         dict(input_weight=torch.from_numpy(weight)),
                         mode='tensor').numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


def test_image_model_folds_the_data_preprocessor(tmp_path):
    code, model, session = _export(TINY_POTTER_CONFIG, tmp_path, seed=6)
    assert code == 0
    assert session.get_inputs()[0].shape[1:] == [3, 64, 64]
    rng = np.random.default_rng(1)
    for batch in (1, 3):
        crops = rng.integers(0, 256, (batch, 3, 64, 64), dtype=np.uint8)
        got, = session.run(None, dict(inputs=crops.astype(np.float32)))
        with torch.no_grad():
            # the model's own path: uint8 BGR batch -> preprocessor -> tensor
            data = model.data_preprocessor(
                dict(inputs=torch.from_numpy(crops)), False)
            expected = model(data['inputs'], None, mode='tensor').numpy()
        assert got.shape == (batch, 21, 3)
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


def test_difference_beyond_tolerance_exits_non_zero(tmp_path, capsys):
    code, _, _ = _export(LIFTING_CONFIG, tmp_path, seed=5,
                         extra=('--atol', '-1'))
    assert code == 1
    assert 'FAILED' in capsys.readouterr().out


def test_input_size_is_for_image_models(tmp_path):
    with pytest.raises(ValueError, match='--input-size is for image models'):
        _export(LIFTING_CONFIG, tmp_path, seed=5,
                extra=('--input-size', '64', '64'))
