import cv2
import numpy as np
import pytest
from transform_samples import INVALID_JOINT, make_sample, textured_frame

from hp3d.codecs import LiftingCodec, Pose3DCodec
from hp3d.datasets.transforms import (
    GenerateTarget,
    PhotometricDistortion,
    RandomBlur,
    colour_jitter_matrix,
    motion_blur_kernel,
)


def crop_sample(seed=0):
    return dict(img=textured_frame((224, 224), seed=seed),
                keypoints_2d_crop=np.array([[10.0, 20.0]], np.float32))


def run_seeded(transform, seed, sample_seed=0):
    np.random.seed(seed)
    return transform(crop_sample(sample_seed))['img']


@pytest.mark.parametrize('transform', [
    PhotometricDistortion(prob=1.0),
    RandomBlur(gaussian_prob=0.5, motion_prob=0.5),
])
def test_augmentations_are_deterministic_under_a_seed(transform):
    np.testing.assert_array_equal(run_seeded(transform, 3),
                                  run_seeded(transform, 3))
    outputs = [run_seeded(transform, seed) for seed in range(4)]
    assert any((a != b).any() for a, b in zip(outputs, outputs[1:]))
    out = transform(crop_sample())
    assert out['img'].shape == (224, 224, 3) and out['img'].dtype == np.uint8
    np.testing.assert_array_equal(out['keypoints_2d_crop'], [[10.0, 20.0]])


def test_brightness_shifts_every_unsaturated_pixel_by_one_delta():
    jitter = PhotometricDistortion(brightness_delta=20, contrast_range=(1, 1),
                                   saturation_range=(1, 1), hue_delta_deg=0,
                                   prob=1.0)
    img = np.full((8, 8, 3), 100, np.uint8)
    img[0, 0] = 250
    np.random.seed(0)
    out = jitter(dict(img=img.copy()))['img'].astype(int)
    delta = out[1, 1, 0] - 100
    assert 0 < abs(delta) <= 20
    np.testing.assert_array_equal(out[1:, 1:], 100 + delta)
    assert out[0, 0, 0] == min(250 + delta, 255)


def test_contrast_scales_levels():
    jitter = PhotometricDistortion(brightness_delta=0, contrast_range=(2, 2),
                                   saturation_range=(1, 1), hue_delta_deg=0,
                                   prob=1.0)
    img = np.array([[[10, 60, 200]]], np.uint8)
    np.testing.assert_array_equal(jitter(dict(img=img))['img'],
                                  [[[20, 120, 255]]])


def test_hue_and_saturation_leave_grey_unchanged_and_zero_saturation_greys():
    grey = np.full((4, 4, 3), 90, np.uint8)
    hue_only = PhotometricDistortion(brightness_delta=0, contrast_range=(1, 1),
                                     saturation_range=(1, 1), hue_delta_deg=90,
                                     prob=1.0)
    np.testing.assert_array_equal(hue_only(dict(img=grey))['img'], grey)
    desaturate = PhotometricDistortion(brightness_delta=0,
                                       contrast_range=(1, 1),
                                       saturation_range=(0, 0),
                                       hue_delta_deg=0, prob=1.0)
    img = textured_frame((16, 16))
    out = desaturate(dict(img=img))['img'].astype(int)
    luma = img.astype(np.float64) @ [0.114, 0.587, 0.299]
    # cv2.transform rounds in float32: within half a level of the luma.
    assert np.abs(out - luma[..., None]).max() < 0.51
    assert (out == out[..., :1]).all()


def test_hue_rotation_keeps_luma_and_saturation_and_returns_after_360():
    img = textured_frame((16, 16)).astype(np.float64)
    quarter = colour_jitter_matrix(0.0, 1.0, 1.0, 90.0)
    rotated = img @ quarter[:, :3].T
    np.testing.assert_allclose(rotated @ [0.114, 0.587, 0.299],
                               img @ [0.114, 0.587, 0.299], atol=1e-9)
    assert np.abs(rotated - img).max() > 10
    full_turn = np.linalg.matrix_power(quarter[:, :3], 4)
    np.testing.assert_allclose(full_turn, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(colour_jitter_matrix(5.0, 2.0, 1.0, 0.0),
                               np.hstack([2 * np.eye(3), np.full((3, 1), 5.0)]),
                               atol=1e-9)


def test_photometric_rejects_float_images():
    with pytest.raises(TypeError, match='uint8'):
        PhotometricDistortion()(dict(img=np.zeros((4, 4, 3), np.float32)))


def test_gaussian_blur_uses_the_drawn_sigma():
    blur = RandomBlur(gaussian_prob=1.0, motion_prob=0.0,
                      gaussian_sigma=(1.0, 2.0))
    img = textured_frame((64, 64))
    np.random.seed(5)
    out = blur(dict(img=img))['img']
    np.random.seed(5)
    np.random.rand()
    sigma = np.random.uniform(1.0, 2.0)
    np.testing.assert_array_equal(out, cv2.GaussianBlur(img, (0, 0), sigma))


def test_motion_kernel_is_a_normalised_line():
    horizontal = motion_blur_kernel(7, 0.0)
    np.testing.assert_allclose(horizontal.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(horizontal[3], 1 / 7, rtol=1e-5)
    assert np.abs(np.delete(horizontal, 3, axis=0)).max() < 1e-6
    vertical = motion_blur_kernel(7, 90.0)
    np.testing.assert_allclose(vertical[:, 3], 1 / 7, rtol=1e-4)


def test_no_blur_when_probabilities_are_zero():
    img = textured_frame((32, 32))
    out = RandomBlur(gaussian_prob=0.0, motion_prob=0.0)(dict(img=img))['img']
    assert out is img


def test_blur_rejects_bad_probabilities():
    with pytest.raises(ValueError, match='sum to <= 1'):
        RandomBlur(gaussian_prob=0.7, motion_prob=0.5)


POSE3D = dict(type='Pose3DCodec')
LIFTING = dict(type='LiftingCodec')


@pytest.mark.parametrize('flipped', [False, True])
def test_pose3d_target_follows_flipped(flipped):
    sample = make_sample('left')
    sample['flipped'] = flipped
    results = GenerateTarget(encoder=POSE3D)(sample)
    expected = Pose3DCodec().encode(sample['keypoints_3d'],
                                    sample['keypoints_valid'], flip=flipped)
    np.testing.assert_array_equal(results['target'], expected['target'])
    assert results['target'].shape == (21, 3)
    assert results['target_weight'].shape == (21, )
    assert results['target_weight'][INVALID_JOINT] == 0
    assert results['target_weight'].sum() == 20
    unflipped = Pose3DCodec().encode(sample['keypoints_3d'],
                                     sample['keypoints_valid'])['target']
    assert (results['target'] != unflipped).any() == flipped


def test_lifting_outputs_are_stored_under_lifting_names():
    sample = make_sample()
    results = GenerateTarget(encoder=LiftingCodec())(sample)
    expected = LiftingCodec().encode(sample['keypoints_2d'],
                                     sample['keypoints_3d'],
                                     sample['keypoints_valid'])
    np.testing.assert_array_equal(results['lifting_inputs'], expected['inputs'])
    np.testing.assert_array_equal(results['input_weight'],
                                  expected['input_weight'])
    np.testing.assert_array_equal(results['target'], expected['target'])
    assert 'inputs' not in results


@pytest.mark.filterwarnings('error')
@pytest.mark.parametrize('codec', [POSE3D, LIFTING])
def test_box_only_samples_get_zero_targets(codec):
    results = GenerateTarget(encoder=codec)(make_sample(has_gt=False))
    np.testing.assert_array_equal(results['target'], np.zeros((21, 3)))
    np.testing.assert_array_equal(results['target_weight'], np.zeros(21))
    assert np.isnan(results['keypoints_3d']).all()  # GT left as it was


def test_2d_only_samples_keep_their_lifting_inputs():
    # A 2D-only dataset (e.g. COCO hands): 2D and its validity, no 3D GT.
    sample = make_sample()
    sample.update(has_gt=False, keypoints_3d=np.full((21, 3), np.nan,
                                                     np.float32))
    results = GenerateTarget(encoder=LIFTING)(sample)
    expected = LiftingCodec().encode(sample['keypoints_2d'],
                                     keypoints_valid=sample['keypoints_valid'])
    np.testing.assert_array_equal(results['lifting_inputs'], expected['inputs'])
    assert results['input_weight'].sum() == 20
    assert not results['target_weight'].any()


class _NeedsDepth:

    def encode(self, keypoints_3d, depth_map):
        return {}


class _NoTarget:

    def encode(self, keypoints_3d, keypoints_valid):
        return dict(heatmap=np.zeros(3))


def test_codec_arguments_and_outputs_are_checked():
    with pytest.raises(TypeError, match="'depth_map'"):
        GenerateTarget(encoder=_NeedsDepth())
    with pytest.raises(KeyError, match="take 'take_a' frame 42"):
        GenerateTarget(encoder=_NoTarget())(make_sample())
