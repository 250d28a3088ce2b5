import math

import pytest
import torch

from hp3d.models.losses import L1Loss, MaskedMSELoss, MPJPELoss


@pytest.fixture
def case():
    pred = torch.zeros(1, 3, 3)
    target = torch.tensor([[[3.0, 4.0, 0.0], [1.0, 1.0, 1.0], [9.0, 9.0, 9.0]]])
    weight = torch.tensor([[1.0, 1.0, 0.0]])  # the third joint is invalid
    return pred, target, weight


def test_masked_mse(case):
    # joint means: 25/3 and 3/3; the invalid joint is ignored
    expected = (25 / 3 + 1) / 2
    assert MaskedMSELoss()(*case).item() == pytest.approx(expected)
    assert MaskedMSELoss(loss_weight=2.0)(*case).item() == pytest.approx(2 * expected)


def test_l1(case):
    assert L1Loss()(*case).item() == pytest.approx((7 / 3 + 1) / 2)


def test_mpjpe(case):
    assert MPJPELoss()(*case).item() == pytest.approx((5 + math.sqrt(3)) / 2)
    scaled = MPJPELoss(scale=(2.0, 2.0, 2.0))(*case).item()
    assert scaled == pytest.approx(5 + math.sqrt(3))


@pytest.mark.parametrize('loss', [MaskedMSELoss(), L1Loss(), MPJPELoss()])
def test_fractional_weights_give_the_weighted_mean(case, loss):
    pred, target, weight = case
    # weights summing to 0.5: the same mean as weights of 1
    assert loss(pred, target, weight / 4).item() == pytest.approx(
        loss(pred, target, weight).item())


def test_no_valid_joint_gives_zero_not_nan(case):
    pred, target, _ = case
    assert MaskedMSELoss()(pred, target, torch.zeros(1, 3)).item() == 0.0


def test_mpjpe_gradient_finite_at_zero_error():
    pred = torch.zeros(1, 2, 3, requires_grad=True)
    MPJPELoss()(pred, torch.zeros(1, 2, 3)).backward()
    assert torch.isfinite(pred.grad).all()
