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


# per-joint values of `case` (joints 1 and 2): MSE 25/3 and 1, L1 7/3 and 1,
# Euclidean 5 and sqrt(3)
@pytest.mark.parametrize('loss, joint_values', [
    (MaskedMSELoss(), (25 / 3, 1.0)),
    (L1Loss(), (7 / 3, 1.0)),
    (MPJPELoss(), (5.0, math.sqrt(3))),
])
def test_fractional_weights_give_the_weighted_mean(case, loss, joint_values):
    pred, target, _ = case
    first, second = joint_values
    weight = torch.tensor([[1.0, 0.5, 0.0]])
    assert loss(pred, target, weight).item() == pytest.approx(
        (first + 0.5 * second) / 1.5)
    # weights summing below 1 are not clamped up: the same mean
    assert loss(pred, target, weight / 8).item() == pytest.approx(
        (first + 0.5 * second) / 1.5)


def test_no_valid_joint_gives_zero_not_nan(case):
    pred, target, _ = case
    assert MaskedMSELoss()(pred, target, torch.zeros(1, 3)).item() == 0.0


def test_mpjpe_gradient_finite_at_zero_error():
    pred = torch.zeros(1, 2, 3, requires_grad=True)
    MPJPELoss()(pred, torch.zeros(1, 2, 3)).backward()
    assert torch.isfinite(pred.grad).all()
