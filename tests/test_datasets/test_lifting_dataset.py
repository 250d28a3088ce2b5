import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from hp3d.codecs import LiftingCodec
from hp3d.datasets import EgoExo4DHandDataset, LiftingTensorDataset, batched_collate


@pytest.fixture(scope='module')
def dataset(synthetic_root):
    hands = EgoExo4DHandDataset(
        str(synthetic_root / 'annotations/ego_pose_gt_anno_train_public.json'),
        data_prefix=dict(img=''))
    return LiftingTensorDataset(hands, LiftingCodec())


def test_batch_equals_collated_samples(dataset):
    indices = [5, 0, len(dataset) - 1, 5]
    batch = dataset.__getitems__(indices)
    collated = default_collate([dataset[i] for i in indices])
    torch.testing.assert_close(batch['inputs'], collated['inputs'])
    assert batch['data_samples'].keys() == collated['data_samples'].keys()
    for key, value in batch['data_samples'].items():
        other = collated['data_samples'][key]
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, other, equal_nan=True)
        else:
            assert list(value) == list(other), key


def test_tensors_match_the_codec_per_sample(dataset):
    arrays = dataset.dataset.get_arrays()
    codec = LiftingCodec()
    i = 7
    one = codec.encode(arrays['keypoints_2d'][i], arrays['keypoints_3d'][i],
                       arrays['keypoints_valid'][i])
    sample = dataset[i]
    np.testing.assert_allclose(sample['inputs'].numpy(), one['inputs'], atol=1e-6)
    np.testing.assert_allclose(sample['data_samples']['target'].numpy(),
                               one['target'], atol=1e-6)
    assert sample['data_samples']['take_uid'] == arrays['take_uid'][i]
    assert int(sample['data_samples']['sample_idx']) == i
    assert not bool(sample['data_samples']['flipped'])


def test_batched_collate_rejects_single_samples(dataset):
    with pytest.raises(TypeError, match='default_collate'):
        batched_collate([dataset[0]])
    batch = dataset.__getitems__([1, 2])
    assert batched_collate(batch) is batch


def test_meta_keys_select_the_metadata(dataset):
    from hp3d.datasets.lifting_dataset import META_KEYS, TRAIN_KEYS
    indices = [3, 1, 4]
    full = dataset.__getitems__(indices)
    assert set(full['data_samples']) == set(META_KEYS + TRAIN_KEYS)
    for meta_keys in ((), ('take_uid', 'sample_idx')):
        lean = LiftingTensorDataset(dataset.dataset, LiftingCodec(),
                                    meta_keys=meta_keys)
        batch = lean.__getitems__(indices)
        assert set(batch['data_samples']) == set(TRAIN_KEYS + meta_keys)
        torch.testing.assert_close(batch['inputs'], full['inputs'])
        for key, value in batch['data_samples'].items():
            if isinstance(value, torch.Tensor):
                torch.testing.assert_close(value, full['data_samples'][key])
            else:
                assert list(value) == list(full['data_samples'][key])
        assert set(lean[2]['data_samples']) == set(batch['data_samples'])


def test_unknown_meta_keys_are_refused(dataset):
    with pytest.raises(ValueError, match=r"\['take'\] are not among"):
        LiftingTensorDataset(dataset.dataset, LiftingCodec(),
                             meta_keys=('take', 'hand'))


def test_predictions_need_the_metadata(dataset):
    from hp3d.models.estimators.base import Base3DEstimator
    lean = LiftingTensorDataset(dataset.dataset, LiftingCodec(),
                                meta_keys=())
    batch = lean.__getitems__([0, 1])
    with pytest.raises(KeyError, match='meta_keys=None'):
        Base3DEstimator.to_predictions(torch.zeros(2, 21, 3),
                                       batch['data_samples'])
