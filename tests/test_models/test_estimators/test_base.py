import numpy as np
import torch

from hp3d.datasets.metainfo import MIRROR_AXIS
from hp3d.models.estimators import Base3DEstimator


def test_to_predictions_mirrors_flipped_hands_back():
    pred = torch.arange(2 * 21 * 3, dtype=torch.float32).view(2, 21, 3)
    gt = np.random.default_rng(0).normal(size=(2, 21, 3)).astype(np.float32)
    valid = np.ones((2, 21), bool)
    valid[1, 3] = False
    samples = dict(
        sample_idx=torch.tensor([4, 7]), take_uid=['a', 'b'],
        frame_number=torch.tensor([12, 15]), hand=['right', 'left'],
        has_gt=torch.tensor([True, True]), flipped=torch.tensor([False, True]),
        keypoints_3d=torch.from_numpy(gt), keypoints_valid=torch.from_numpy(valid))
    out = Base3DEstimator.to_predictions(pred, samples)
    assert [r['sample_idx'] for r in out] == [4, 7]
    assert [r['frame_number'] for r in out] == [12, 15]
    assert isinstance(out[0]['sample_idx'], int)
    np.testing.assert_array_equal(out[0]['pred_mm'], pred[0].numpy())
    expected = pred[1].numpy().copy()
    expected[:, MIRROR_AXIS] *= -1
    np.testing.assert_array_equal(out[1]['pred_mm'], expected)
    np.testing.assert_array_equal(out[1]['gt_m'], gt[1])
    assert out[1]['valid'].dtype == bool and not out[1]['valid'][3]


def _mmengine_parse(losses):
    from mmengine.model import BaseModel
    return BaseModel.parse_losses(None, losses)


def test_parse_losses_equals_mmengines():
    import pytest
    x = torch.tensor([0.3, -1.2, 2.0], requires_grad=True)
    cases = [
        lambda: dict(loss_kpt=(x**2).mean()),
        lambda: dict(loss_kpt=(x**2).mean(), loss_aux=x.abs().sum(),
                     acc=x.max()),
        lambda: dict(loss_kpt=x**2),  # per-element: mmengine's path
        lambda: dict(loss_kpt=[x.sum(), x.mean()]),
        lambda: dict(acc=x.sum()),  # no loss term
    ]
    # parse_losses reads no attribute: an unbuilt estimator will do
    estimator = Base3DEstimator.__new__(Base3DEstimator)
    for make in cases:
        ours_loss, ours_log = estimator.parse_losses(make())
        ref_loss, ref_log = _mmengine_parse(make())
        assert list(ours_log) == list(ref_log)
        for key in ref_log:
            assert torch.equal(torch.as_tensor(ours_log[key]),
                               torch.as_tensor(ref_log[key])), key
        if not isinstance(ref_loss, torch.Tensor):
            assert ours_loss == ref_loss == 0
            continue
        ours_grad, = torch.autograd.grad(ours_loss, x)
        ref_grad, = torch.autograd.grad(ref_loss, x)
        assert torch.equal(ours_grad, ref_grad)
    with pytest.raises(TypeError):
        estimator.parse_losses(dict(loss_kpt='0.5'))
