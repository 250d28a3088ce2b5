import pytest
import torch
from torch import nn

from hp3d.models.heads import Pose3DVolumeHead


class ScaleCodec:
    """Decodes normalised predictions to mm by a factor of 10."""

    def decode(self, pred):
        return pred * 10.0


class WeightedL1Sum(nn.Module):
    """sum(|pred - target| * weight): easy to compute by hand."""

    def forward(self, pred, target, weight):
        return ((pred - target).abs().sum(-1) * weight).sum()


def small_head(impl='fast', **kwargs):
    cfg = dict(codec=ScaleCodec(), loss=WeightedL1Sum(), in_channels=8,
               feat_channels=16, num_joints=3, depth_size=4,
               heatmap_size=(5, 6), hidden_dims=8, impl=impl)
    cfg.update(kwargs)
    return Pose3DVolumeHead(**cfg)


def test_forward_shape_and_official_default_sizes():
    torch.manual_seed(0)
    head = small_head()
    assert head(torch.randn(2, 8, 5, 6)).shape == (2, 3, 3)
    default = Pose3DVolumeHead(codec=ScaleCodec(),
                               loss=dict(type='MaskedMSELoss'))
    assert type(default.loss_module).__name__ == 'MaskedMSELoss'
    # 21 joints x 56 depth bins; the MLP reads W + H + D = 3 * 56 marginals
    assert default.volume_conv.out_channels == 21 * 56
    assert default.reg_fc1.in_features == 168


def test_loss_and_predict_by_hand():
    head = small_head()
    # a constant output: every joint predicts (1, 2, 3)
    nn.init.zeros_(head.reg_fc2.weight)
    head.reg_fc2.bias.data = torch.tensor([1.0, 2.0, 3.0])
    feats = torch.randn(1, 8, 5, 6)
    target = torch.tensor([[[1.0, -1.0, -1.0],   # off by (0, 3, 4): 5 -> 50 mm
                            [1.0, 2.0, 3.0],     # exact
                            [1e3, 1e3, 1e3]]])   # invalid: must not count
    weight = torch.tensor([[1.0, 1.0, 0.0]])
    losses = head.loss(feats, dict(target=target, target_weight=weight))
    assert losses['loss_kpt'].item() == pytest.approx(7.0)
    assert losses['mpjpe_mm'].item() == pytest.approx(25.0)
    assert not losses['mpjpe_mm'].requires_grad
    losses['loss_kpt'].backward()
    assert head.reg_fc2.bias.grad.tolist() == [0.0, 1.0, 1.0]

    pred_mm = head.predict(feats, dict())
    assert pred_mm.shape == (1, 3, 3)
    torch.testing.assert_close(pred_mm, torch.tensor([10.0, 20.0, 30.0]
                                                     ).expand(1, 3, 3))


def test_mpjpe_ignores_nan_targets_of_invalid_joints():
    torch.manual_seed(0)
    head = small_head()
    feats = torch.randn(2, 8, 5, 6)
    target = torch.randn(2, 3, 3)
    weight = torch.ones(2, 3)
    weight[1, 2] = 0
    with_nan = target.clone()
    with_nan[1, 2] = float('nan')
    mpjpe = head.loss(feats, dict(target=with_nan,
                                  target_weight=weight))['mpjpe_mm']
    expected = head.loss(feats, dict(target=target,
                                     target_weight=weight))['mpjpe_mm']
    assert torch.isfinite(mpjpe)
    torch.testing.assert_close(mpjpe, expected)


@pytest.mark.parametrize('impl', ['reference', 'fast'])
def test_marginals_of_a_constant_volume(impl):
    """A zero volume leaves GroupNorm's bias b_k at every voxel of joint k:
    its marginals are b_k times the number of voxels summed (D*H per W entry,
    D*W per H entry, H*W per D entry)."""
    head = small_head(impl)
    for conv in (head.volume_conv, head.joint_conv1):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    head.joint_norm.bias.data = torch.tensor([1.0, -2.0, 0.5])
    head.joint_conv2.weight.data = torch.eye(3).reshape(3, 3, 1, 1, 1)
    nn.init.zeros_(head.joint_conv2.bias)
    feats = torch.randn(2, 16, 5, 6)
    if impl == 'reference':
        marginals = head._marginals_reference(feats)
    else:
        marginals = head._marginals_fast(feats)
    D, H, W = 4, 5, 6
    counts = torch.tensor([D * H] * W + [D * W] * H + [H * W] * D).float()
    expected = head.joint_norm.bias.data[:, None] * counts
    torch.testing.assert_close(marginals, expected.expand(2, 3, W + H + D))


def test_rejects_wrong_feature_size_and_impl():
    head = small_head()
    with pytest.raises(ValueError, match=r'\(5, 6\).*\(6, 5\)'):
        head(torch.randn(1, 8, 6, 5))
    with pytest.raises(ValueError, match='impl'):
        small_head(impl='cuda')


def test_accepts_backbone_tuple_output():
    torch.manual_seed(0)
    head = small_head().eval()
    feats = torch.randn(2, 8, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(head((feats, torch.randn(2, 4, 1, 1))),
                                   head(feats))
