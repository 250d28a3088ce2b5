import numpy as np
import pytest
from transform_samples import make_sample

from hp3d.datasets.transforms import (
    GetBBoxCenterScale,
    RandomBBoxTransform,
    bbox_xyxy_to_center_scale,
)


@pytest.mark.parametrize('bbox, input_size, center, scale', [
    # wide box, square input: h grows to w = 80, then x1.25
    ([100, 120, 180, 160], (224, 224), (140, 140), (100, 100)),
    # tall box, square input: w grows to h = 100
    ([10, 10, 30, 110], (224, 224), (20, 60), (125, 125)),
    # wide box, 3:4 input: h = 80 / 0.75 = 106.67
    ([100, 120, 180, 160], (192, 256), (140, 140), (100, 133.3333)),
    # tall box, 3:4 input: w = 100 * 0.75 = 75
    ([10, 10, 30, 110], (192, 256), (20, 60), (93.75, 125)),
])
def test_center_scale_rule(bbox, input_size, center, scale):
    results = GetBBoxCenterScale(input_size=input_size)(
        dict(bbox=np.array(bbox, dtype=np.float32)))
    np.testing.assert_allclose(results['center'], center, rtol=1e-6)
    np.testing.assert_allclose(results['scale'], scale, rtol=1e-5)
    assert results['center'].dtype == results['scale'].dtype == np.float32
    assert results['rotation'] == 0.0


def test_official_scale_unit_is_px_over_200():
    # The official xyxy2cs gives scale [0.5, 0.5] for this 80x40 box.
    _, scale = bbox_xyxy_to_center_scale(np.array([100, 120, 180, 160]), 1.0,
                                         1.25)
    np.testing.assert_allclose(scale / 200, [0.5, 0.5])


@pytest.mark.parametrize('bbox', [[10, 10, 10, 50], [10, 60, 40, 50],
                                  [np.nan, 0, 1, 1]])
def test_bad_bbox_names_the_sample(bbox):
    sample = make_sample()
    sample['bbox'] = np.array(bbox, dtype=np.float32)
    with pytest.raises(ValueError, match="take 'take_a' frame 42 right hand"):
        GetBBoxCenterScale()(sample)


def test_random_bbox_transform_ranges_and_determinism():
    jitter = RandomBBoxTransform(shift_factor=0.1, scale_factor=(0.8, 1.2),
                                 rotate_factor=30, rotate_prob=0.25)
    base = dict(center=np.array([200, 300], np.float32),
                scale=np.array([100, 150], np.float32), rotation=0.0)

    def draw(n):
        return [jitter(dict(base)) for _ in range(n)]

    np.random.seed(0)
    first = draw(400)
    np.random.seed(0)
    again = draw(400)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a['center'], b['center'])
        assert a['rotation'] == b['rotation']

    shift = np.stack([r['center'] for r in first]) - base['center']
    ratio = np.stack([r['scale'] for r in first]) / base['scale']
    rotation = np.array([r['rotation'] for r in first])
    assert (np.abs(shift) <= 0.1 * base['scale'] + 1e-4).all()
    assert np.abs(shift).max(0).min() > 0.09 * 100  # the range is used
    np.testing.assert_allclose(ratio[:, 0], ratio[:, 1], rtol=1e-6)
    assert ratio.min() >= 0.8 - 1e-6 and ratio.max() <= 1.2 + 1e-6
    assert np.abs(rotation).max() <= 30
    assert 0.15 < np.mean(rotation != 0) < 0.35


def test_random_bbox_transform_rejects_bad_ranges():
    with pytest.raises(ValueError, match='scale_factor'):
        RandomBBoxTransform(scale_factor=(1.2, 0.8))
    with pytest.raises(ValueError, match='rotate_prob'):
        RandomBBoxTransform(rotate_prob=1.5)
