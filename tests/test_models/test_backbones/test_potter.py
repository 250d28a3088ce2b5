import importlib.util
import logging
import os.path as osp
import sys

import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

from hp3d.models.backbones import PoolAttnFormer, PoolAttnFormerHR
from hp3d.models.backbones.potter import (
    HRStream,
    Mlp,
    adaptive_pool_matrix,
    hp3d_to_official,
    load_matching_weights,
    official_to_hp3d,
)
from hp3d.models.heads import Pose3DVolumeHead

# state-dict key listings of the official models
FIXTURES = osp.join(osp.dirname(__file__), '..', '..', 'data', 'potter')


def load_converter():
    """tools/model_converters/potter_to_hp3d.py (tools/ is no package)."""
    path = osp.join(osp.dirname(__file__), '..', '..', '..', 'tools',
                    'model_converters', 'potter_to_hp3d.py')
    spec = importlib.util.spec_from_file_location('potter_to_hp3d', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_keys(name):
    """{key: shape} of a fixture listing ``key<TAB>[shape]`` lines."""
    shapes = {}
    with open(osp.join(FIXTURES, name)) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            key, shape = line.rstrip('\n').split('\t')
            shapes[key] = [int(s) for s in shape.strip('[]').split(',') if s]
    return shapes


def shapes_of(state_dict):
    return {k: list(v.shape) for k, v in state_dict.items()}


class UnitCodec:
    """Decode = identity: the head's tests of decoding live elsewhere."""

    def decode(self, pred):
        return pred


class HandModel(nn.Module):
    """The parts of hp3d's estimator that hold weights: backbone + head.

    Key and loading tests build it on the meta device: shapes without memory.
    """

    def __init__(self):
        super().__init__()
        self.backbone = PoolAttnFormerHR()
        self.head = Pose3DVolumeHead(codec=UnitCodec(), loss=nn.MSELoss())


@pytest.mark.parametrize('arch', ['s12', 's24'])
def test_cls_state_dict_equals_official(arch):
    with torch.device('meta'):
        model = PoolAttnFormer(arch, with_cls_head=True)
    expected = read_keys(f'poolattnformer_{arch}_cls_state_dict_keys.txt')
    assert list(shapes_of(model.state_dict()).items()) == list(expected.items())


def test_hand_model_state_dict_equals_official_after_key_map():
    with torch.device('meta'):
        model = HandModel()
    expected = read_keys('pose3d_egoexo4d_state_dict_keys.txt')
    state_dict = model.state_dict()
    assert shapes_of(hp3d_to_official(state_dict)) == expected
    assert set(official_to_hp3d(dict.fromkeys(expected))) == set(state_dict)
    # 14,572,363 parameters: the fixture's header count
    assert sum(p.numel() for p in model.parameters()) == 14_572_363


def test_key_map_examples_and_errors():
    renamed = official_to_hp3d({
        'module.poolattnformer_pose.poolattn_cls.norm4.weight': 1,
        'poolattnformer_pose.poolattn_cls.network.2.3.mlp.fc1.bias': 2,
        'poolattnformer_pose.stage1.patch_emb1.proj.weight': 3,
        'poolattnformer_pose.stage1.Block3.1.token_mixer.proj2.bias': 4,
        'pose_layer.2.weight': 5,
    })
    assert renamed == {
        'backbone.basic_stream.out_norms.2.weight': 1,
        'backbone.basic_stream.network.2.3.mlp.fc1.bias': 2,
        'backbone.hr_stream.ups.0.0.proj.weight': 3,
        'backbone.hr_stream.blocks.2.1.token_mixer.proj2.bias': 4,
        'head.joint_norm.weight': 5,
    }
    with pytest.raises(KeyError, match='classifier.weight'):
        official_to_hp3d({'classifier.weight': 0})
    with pytest.raises(KeyError, match='data_preprocessor.mean'):
        hp3d_to_official({'data_preprocessor.mean': 0})


def run_converter(monkeypatch, *args):
    monkeypatch.setattr(sys, 'argv', ['potter_to_hp3d.py', *map(str, args)])
    load_converter().main()


def test_official_checkpoint_converts_and_loads_strict(tmp_path, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    official = {k: torch.randn(shape, generator=gen) for k, shape in
                read_keys('pose3d_egoexo4d_state_dict_keys.txt').items()}
    src, dst = tmp_path / 'official.pt', tmp_path / 'hp3d.pth'
    # the layout of the official train.py's checkpoints
    torch.save({'epoch': 3, 'state_dict': official, 'val_loss': 0.5}, src)
    run_converter(monkeypatch, src, dst)

    converted = torch.load(dst, map_location='cpu', weights_only=True)
    assert converted['meta']['source_epoch'] == 3
    with torch.device('meta'):
        model = HandModel()
    model.load_state_dict(converted['state_dict'], strict=True, assign=True)
    key = 'poolattnformer_pose.stage1.patch_emb3.1.norm.bias'
    torch.testing.assert_close(model.backbone.hr_stream.ups[2][1].norm.bias,
                               official[key])
    torch.testing.assert_close(model.head.reg_fc2.weight,
                               official['pose_3d_head.3.weight'])

    back = tmp_path / 'back.pt'
    run_converter(monkeypatch, '--reverse', dst, back)
    restored = torch.load(back, map_location='cpu', weights_only=True)
    assert restored['state_dict'].keys() == official.keys()
    for k, v in official.items():
        assert torch.equal(restored['state_dict'][k], v), k


def test_converter_rejects_classification_checkpoints(tmp_path):
    converter = load_converter()
    with pytest.raises(ValueError, match='needs no conversion'):
        converter.official_to_hp3d_checkpoint(
            {'network.0.0.norm1.weight': torch.ones(1)}, 'cls.pth')


@pytest.mark.parametrize('arch', ['s12', 's24'])
def test_forward_shapes(arch):
    x = torch.randn(2, 3, 64, 64)
    hr = PoolAttnFormerHR(arch, return_low_res=True).eval()
    with torch.no_grad():
        feats = hr.basic_stream(x)
        out, low_res = hr(x)
    assert [f.shape for f in feats] == [(2, 64, 16, 16), (2, 128, 8, 8),
                                        (2, 320, 4, 4), (2, 512, 2, 2)]
    assert out.shape == (2, 64, 16, 16) and low_res.shape == (2, 512, 2, 2)
    assert torch.isfinite(out).all()
    cls = PoolAttnFormer(arch, with_cls_head=True, num_classes=7).eval()
    cls.load_state_dict(hr.basic_stream.state_dict(), strict=False)
    with torch.no_grad():
        logits = cls(x)
    assert logits.shape == (2, 7)
    # norm (initialised like out_norms[3]), global average pool, linear
    expected = cls.head(feats[3].mean((-2, -1)))
    torch.testing.assert_close(logits, expected)


def test_hr_input_size_and_arch_errors():
    with pytest.raises(ValueError, match='divisible by 32'):
        PoolAttnFormerHR()(torch.randn(1, 3, 48, 64))
    with pytest.raises(ValueError, match='s36'):
        PoolAttnFormer('s36')
    with pytest.raises(ValueError, match='out_indices'):
        PoolAttnFormer(out_indices=(4, ))


def test_low_res_norm_frozen_unless_returned():
    with torch.device('meta'):
        frozen = PoolAttnFormerHR().low_res_norm
        trained = PoolAttnFormerHR(return_low_res=True).low_res_norm
    assert not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in trained.parameters())


@pytest.mark.parametrize('in_size,out_size', [(2, 4), (7, 4), (10, 4),
                                              (14, 4), (16, 4), (32, 4)])
def test_adaptive_pool_matrix_equals_torch(in_size, out_size):
    x = torch.randn(3, in_size, dtype=torch.float64)
    pool = adaptive_pool_matrix(in_size, out_size, torch.float64,
                                torch.device('cpu'))
    expected = nn.AdaptiveAvgPool1d(out_size)(x[:, None])[:, 0]
    torch.testing.assert_close(x @ pool.t(), expected)


def _random_cls_checkpoint(path, arch='s12'):
    with torch.device('meta'):
        shapes = shapes_of(PoolAttnFormer(arch, with_cls_head=True).state_dict())
    gen = torch.Generator().manual_seed(1)
    state = {k: torch.randn(shape, generator=gen) for k, shape in shapes.items()}
    torch.save({'model': {f'module.{k}': v for k, v in state.items()}}, path)
    return state


def test_pretrained_cls_checkpoint_fills_hr_basic_stream(tmp_path):
    path = str(tmp_path / 'poolattnformer_s12.pth')
    cls_state = _random_cls_checkpoint(path)
    model = PoolAttnFormerHR(init_cfg=dict(type='Pretrained', checkpoint=path))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert any('loaded 224 of 228 tensors' in m for m in messages), messages
    assert any('4 checkpoint tensors not loaded' in m and 'head.weight' in m
               for m in messages), messages

    report = load_matching_weights(model, path,
                                   target_prefixes=('', 'basic_stream.'))
    assert len(cls_state) == 228 and len(report['loaded']) == 224
    assert sorted(report['unexpected']) == [
        'head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    assert all(k.startswith(('basic_stream.out_norms', 'hr_stream', 'out_norm',
                             'low_res_norm')) for k in report['missing'])
    torch.testing.assert_close(
        model.basic_stream.network[4][5].mlp.fc2.weight,
        cls_state['network.4.5.mlp.fc2.weight'])
    torch.testing.assert_close(model.basic_stream.patch_embed.proj.bias,
                               cls_state['patch_embed.proj.bias'])


def test_pretrained_prefix_selects_and_shape_mismatch_skips(tmp_path):
    path = str(tmp_path / 'estimator.pth')
    torch.manual_seed(2)
    source = PoolAttnFormer(with_cls_head=True, num_classes=10)
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in source.state_dict().items()}}, path)
    model = PoolAttnFormer(with_cls_head=True)  # 1000 classes: head skipped
    report = load_matching_weights(model, path, prefix='backbone.')
    assert len(report['loaded']) == 226
    assert sorted(report['unexpected']) == ['head.bias', 'head.weight']
    torch.testing.assert_close(model.norm.weight, source.norm.weight)


def test_missing_pretrained_checkpoint_names_path(tmp_path):
    path = str(tmp_path / 'nowhere' / 'poolattnformer_s12.pth.tar')
    model = PoolAttnFormer(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(FileNotFoundError, match='nowhere.*zczcwh/POTTER'):
        model.init_weights()


# ------------------------------------------- official init, loading checks


def official_hand_state():
    """The official PoolAttnHR_Pose_3D state dict, each tensor a broadcast
    scalar (full shapes, a few bytes on disk)."""
    shapes = read_keys('pose3d_egoexo4d_state_dict_keys.txt')
    return {k: torch.full((), 0.5).expand(shape) for k, shape in shapes.items()}


@pytest.mark.parametrize('model_cls', [PoolAttnFormerHR, PoolAttnFormer])
def test_mlp_convs_initialised_like_official(model_cls):
    # official Mlp._init_weights: trunc_normal(std .02) weights, zero biases
    torch.manual_seed(0)
    mlps = [m for m in model_cls().modules() if isinstance(m, Mlp)]
    assert len(mlps) == (20 if model_cls is PoolAttnFormerHR else 12)
    for mlp in mlps:
        for conv in (mlp.fc1, mlp.fc2):
            assert torch.count_nonzero(conv.bias) == 0
            assert 0.015 < conv.weight.std() < 0.025


def test_hr_stream_mlp_biases_zero_after_init_weights():
    model = PoolAttnFormerHR()
    model.init_weights()  # no init_cfg: mmengine's, must not re-randomise
    for blocks in model.hr_stream.blocks:
        for block in blocks:
            assert torch.count_nonzero(block.mlp.fc1.bias) == 0
            assert torch.count_nonzero(block.mlp.fc2.bias) == 0


@pytest.mark.parametrize('kwargs,name', [
    (dict(hr_depths=(2, 2)), 'hr_depths'),
    (dict(hr_mlp_ratios=(2, 2)), 'hr_mlp_ratios'),
    (dict(hr_depths=(2, 2, 4, 4)), 'hr_depths'),
])
def test_hr_branch_settings_need_one_value_per_branch(kwargs, name):
    with torch.device('meta'), pytest.raises(ValueError,
                                             match=f'{name} needs 3 values'):
        PoolAttnFormerHR(**kwargs)


def test_hr_stream_checks_its_settings():
    with pytest.raises(ValueError, match='mlp_ratios needs 3 values'):
        HRStream((8, 16, 32, 64), depths=(1, 1, 1), mlp_ratios=(2, 2),
                 drop_rate=0., drop_path_rate=0., layer_scale_init=1e-5,
                 impl='fast')
    # three basic stages: two branches
    hr = HRStream((32, 64, 96), depths=(1, 1), mlp_ratios=(2, 2), drop_rate=0.,
                  drop_path_rate=0., layer_scale_init=1e-5, impl='fast')
    feats = [torch.randn(1, c, 16 // 2**i, 16 // 2**i)
             for i, c in enumerate((32, 64, 96))]
    assert len(hr.blocks) == 2 and hr(feats).shape == (1, 32, 16, 16)


@pytest.mark.parametrize('layout', ['hand_model', 'hr_backbone'])
def test_unconverted_official_checkpoint_raises(tmp_path, layout):
    state = official_hand_state()
    if layout == 'hr_backbone':  # official PoolAttnFormer_hr.state_dict()
        state = {k[len('poolattnformer_pose.'):]: v for k, v in state.items()
                 if k.startswith('poolattnformer_pose.')}
    path = str(tmp_path / 'POTTER-HandPose-ego4d.pt')
    torch.save({'epoch': 69, 'state_dict': state}, path)
    model = PoolAttnFormerHR(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r'POTTER-HandPose-ego4d\.pt.*none of '
                       r'its \d+ tensors.*potter_to_hp3d\.py'):
        model.init_weights()


def test_converted_official_backbone_fills_everything(tmp_path):
    # the error's advice: official names -> converter key map -> loads all
    official = official_hand_state()
    path = str(tmp_path / 'converted.pth')
    torch.save({'state_dict': official_to_hp3d(official)}, path)
    model = PoolAttnFormerHR()
    report = load_matching_weights(model, path,
                                   target_prefixes=('', 'basic_stream.'))
    assert report['missing'] == []
    assert len(report['loaded']) == len(model.state_dict())
    assert all(k.startswith('head.') for k in report['unexpected'])
    assert torch.all(model.hr_stream.blocks[2][3].mlp.fc1.bias == 0.5)


def test_partial_match_still_loads(tmp_path):
    path = str(tmp_path / 'stem.pth')
    stem = nn.Conv2d(3, 64, 7, 4, 2)
    torch.save({f'patch_embed.proj.{k}': v
                for k, v in stem.state_dict().items()}, path)
    model = PoolAttnFormer()
    report = load_matching_weights(model, path)
    assert sorted(report['loaded']) == ['patch_embed.proj.bias',
                                        'patch_embed.proj.weight']
    torch.testing.assert_close(model.patch_embed.proj.weight, stem.weight)
