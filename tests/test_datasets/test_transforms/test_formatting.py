import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, default_collate
from transform_samples import INVALID_JOINT, make_sample

from hp3d.datasets.transforms import REQUIRED_META_KEYS, PackInputs

IMAGE_PIPELINE = [
    dict(type='GetBBoxCenterScale', padding=1.25, input_size=(224, 224)),
    dict(type='RandomBBoxTransform'),
    dict(type='LoadImage', on_error='raise', expected_size=(512, 512)),
    dict(type='TopdownAffine', input_size=(224, 224)),
    dict(type='MirrorLeftHand'),
    dict(type='PhotometricDistortion'),
    dict(type='RandomBlur'),
    dict(type='GenerateTarget', encoder=dict(type='Pose3DCodec')),
    dict(type='PackInputs'),
]
LIFTING_PIPELINE = [
    dict(type='GenerateTarget', encoder=dict(type='LiftingCodec')),
    dict(type='PackInputs', inputs_key='lifting_inputs'),
]
IMAGE_KEYS = set(REQUIRED_META_KEYS) | {
    'target', 'target_weight', 'center', 'scale', 'warp_mat',
    'keypoints_2d_crop'}
LIFTING_KEYS = set(REQUIRED_META_KEYS) | {'target', 'target_weight',
                                          'input_weight'}
STRING_KEYS = ('take_uid', 'take_name', 'hand')


def build(pipeline):
    return Compose([dict(cfg, _scope_='hp3d') for cfg in pipeline])


def test_image_pipeline_batch_matches_the_design(frame_path):
    pipeline = build(IMAGE_PIPELINE)
    np.random.seed(0)
    samples = [pipeline(make_sample(hand, has_gt, frame_path))
               for hand, has_gt in [('right', True), ('left', True),
                                    ('left', False)]]
    for sample in samples:
        assert set(sample) == {'inputs', 'data_samples'}
        assert set(sample['data_samples']) == IMAGE_KEYS
    batch = default_collate(samples)
    inputs, data = batch['inputs'], batch['data_samples']
    assert inputs.shape == (3, 3, 224, 224) and inputs.dtype == torch.uint8
    shapes = dict(keypoints_3d=(3, 21, 3), keypoints_valid=(3, 21),
                  bbox=(3, 4), cam_K=(3, 3, 3), target=(3, 21, 3),
                  target_weight=(3, 21), center=(3, 2), scale=(3, 2),
                  warp_mat=(3, 2, 3), keypoints_2d_crop=(3, 21, 2),
                  sample_idx=(3, ), frame_number=(3, ), is_left=(3, ),
                  flipped=(3, ), has_gt=(3, ))
    for key, shape in shapes.items():
        assert tuple(data[key].shape) == shape, key
    for key in STRING_KEYS:
        assert isinstance(data[key], list) and len(data[key]) == 3
    assert data['hand'] == ['right', 'left', 'left']
    assert data['flipped'].tolist() == [False, True, True]
    assert data['has_gt'].tolist() == [True, True, False]
    assert data['keypoints_valid'].dtype == torch.bool
    assert data['keypoints_3d'].dtype == torch.float32
    assert data['sample_idx'].tolist() == [3, 3, 3]
    # GT keeps NaN where invalid; weights say which joints count.
    assert torch.isnan(data['keypoints_3d'][0, INVALID_JOINT]).all()
    assert data['target_weight'][0].sum() == 20
    assert data['target_weight'][2].sum() == 0
    assert torch.isfinite(data['target']).all()


def test_lifting_pipeline_batch_matches_the_design():
    pipeline = build(LIFTING_PIPELINE)
    samples = [pipeline(make_sample(hand)) for hand in ('right', 'left')]
    for sample in samples:
        assert set(sample['data_samples']) == LIFTING_KEYS
    batch = default_collate(samples)
    assert batch['inputs'].shape == (2, 21, 2)
    assert batch['inputs'].dtype == torch.float32
    assert batch['data_samples']['input_weight'].shape == (2, 21)
    assert batch['data_samples']['flipped'].tolist() == [False, False]
    assert batch['inputs'][0, INVALID_JOINT].eq(0).all()


def test_missing_required_key_is_named():
    sample = make_sample()
    del sample['cam_K']
    sample['img'] = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(KeyError, match=r"take 'take_a' frame 42.*'cam_K'"):
        PackInputs()(sample)


def test_none_value_is_rejected():
    sample = make_sample()
    sample['img'] = np.zeros((4, 4, 3), np.uint8)
    sample['bbox'] = None
    with pytest.raises(ValueError, match='bbox is None'):
        PackInputs()(sample)


def test_missing_inputs_is_named():
    with pytest.raises(KeyError, match="no 'img'"):
        PackInputs()(make_sample())


def test_image_is_packed_channel_first_unchanged():
    sample = make_sample()
    img = np.random.default_rng(0).integers(0, 255, (6, 5, 3), dtype=np.uint8)
    sample['img'] = img
    packed = PackInputs()(sample)
    assert packed['inputs'].shape == (3, 6, 5)
    np.testing.assert_array_equal(packed['inputs'].numpy(),
                                  img.transpose(2, 0, 1))
