import numpy as np
import torch

from hp3d.visualization import sample_image, slice_sample


def test_slice_sample_takes_one_sample_of_each_value():
    batch = dict(take_uid=['a', 'b'], frame_number=torch.tensor([3, 4]),
                 keypoints_3d=torch.arange(12.).reshape(2, 2, 3),
                 bbox=np.array([[0, 1, 2, 3], [4, 5, 6, 7]]),
                 extra=dict(flag=torch.tensor([True, False])))
    sample = slice_sample(batch, 1)
    assert sample['take_uid'] == 'b'
    assert int(sample['frame_number']) == 4
    np.testing.assert_array_equal(sample['keypoints_3d'],
                                  np.arange(6., 12.).reshape(2, 3))
    np.testing.assert_array_equal(sample['bbox'], [4, 5, 6, 7])
    assert not sample['extra']['flag']


def test_sample_image_is_hwc_bgr_or_none_for_keypoints():
    crops = torch.zeros(2, 3, 4, 5, dtype=torch.uint8)
    crops[1, 0] = 7  # blue channel of sample 1
    image = sample_image(crops, 1)
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    assert (image[..., 0] == 7).all() and not image[..., 1:].any()
    assert sample_image(torch.zeros(2, 21, 2), 0) is None
