"""The Ego-Exo4D POTTER hand head: a per-joint 3D volume and its marginals.

Note:
    B: batch size, K: joints (21), C: feature channels, D: depth bins,
    H, W: feature height/width (pixels of the (B, C, H, W) backbone output).

The head (the official ``PoolAttnHR_Pose_3D`` minus its backbone) lifts the
(B, C, H, W) features to a (B, K, D, H, W) volume, mixes the joints with two
1x1x1 convs around GELU/GroupNorm, sums the volume over each pair of axes into
three marginals (lengths W, H, D) per joint, and regresses (K, 3) from them with
a small MLP.

``impl='reference'`` builds the volume exactly as the official code.
``impl='fast'`` (default) computes the same function with a single
volume-sized tensor per sample, kept for backward only when training: the
first joint conv is linear, so it is folded into the conv that creates the
volume; the last joint conv and the GroupNorm's affine map commute with the
sums, so only GELU(volume)'s marginals and per-joint mean/variance are needed.
These are computed per sample (one GEMM, GELU and a few reductions on a
cache-sized block) by :class:`VolumeStats`, whose closed-form backward needs
only the pre-activation volume. The 1x1 conv before the volume runs as a GEMM.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from hp3d.models.backbones.potter import conv1x1_as_matmul
from hp3d.registry import KEYPOINT_CODECS, MODELS
from hp3d.utils import ConfigType, OptMultiConfig, build_module

IMPLS = ('fast', 'reference')


def volume_stats(feats: Tensor, weight: Tensor, bias: Tensor, num_joints: int,
                 depth: int, height: int) -> Tuple[Tensor, ...]:
    """What :class:`VolumeStats` computes, as one batched graph.

    For tracing (``torch.jit.trace``, ONNX export, FLOP counting): plain ops,
    no per-sample loop (the batch stays a dynamic axis), at the price of the
    whole (B, K * D, H * W) volume in memory.
    """
    B = feats.shape[0]
    act = F.gelu(torch.matmul(weight, feats) + bias[:, None])
    act = act.reshape(B, num_joints, depth, height, -1)
    sum_w = act.sum(-1)  # (B, K, D, H)
    mean = sum_w.sum((2, 3)) / act[0, 0].numel()
    var = (act - mean[..., None, None, None]).square().mean((2, 3, 4))
    return sum_w.sum(-1), sum_w.sum(2), act.sum((2, 3)), mean, var


class VolumeStats(torch.autograd.Function):
    """Marginals and moments of ``GELU(weight @ feats + bias)`` per joint.

    The (B, K * D, H * W) volume ``V`` is built one sample at a time (a
    cache-sized block) and reduced at once. Only ``V`` itself is kept for
    backward (the op-by-op graph keeps four volume-sized tensors; without a
    gradient to compute nothing is kept), which applies the closed-form
    gradient: with ``G = GELU(V)`` and N = D * H * W voxels per joint,

        dL/dG = g_hw[d] + g_dw[h] + g_dh[w] + g_mean / N
                + g_var * 2 (G - mean) / N,

    then ``dL/dV = dL/dG * GELU'(V)`` and two GEMMs give the weight/bias and
    feature gradients (the bias rides as an extra weight column against a row
    of ones, so no pass broadcasts it).

    Args (of ``apply``):
        feats (Tensor): (B, C, H * W) features.
        weight (Tensor): (K * D, C) volume weights (joint-major rows).
        bias (Tensor): (K * D, ) volume bias.
        num_joints (int): K.
        depth (int): D.
        height (int): H.

    Returns:
        tuple[Tensor]: sums over (H, W), (D, W), (D, H): (B, K, D), (B, K, H),
        (B, K, W); mean and biased variance over (D, H, W): (B, K) each.
    """

    @staticmethod
    def _volume(w_aug: Tensor, f_aug: Tensor) -> Tensor:
        return w_aug @ f_aug  # (K * D, H * W), bias included

    @staticmethod
    def forward(ctx, feats: Tensor, weight: Tensor, bias: Tensor,
                num_joints: int, depth: int, height: int):
        device_type = feats.device.type
        ctx.autocast = (torch.is_autocast_enabled(device_type),
                        torch.get_autocast_dtype(device_type))
        ctx.shape = (num_joints, depth, height)
        w_aug = torch.cat([weight, bias[:, None]], dim=1)
        ones = feats.new_ones(feats.shape[0], 1, feats.shape[2])
        f_aug = torch.cat([feats, ones], dim=1)
        keep = any(ctx.needs_input_grad[:3])
        stats, ctx.volumes = [], []
        for sample in f_aug:
            volume = VolumeStats._volume(w_aug, sample)
            if keep:
                ctx.volumes.append(volume)
                act = F.gelu(volume)
            else:
                act = torch.ops.aten.gelu_(volume)
            act = act.reshape(num_joints, depth, height, -1)
            sum_w = act.sum(-1)  # (K, D, H)
            sum_dh = act.sum((1, 2))
            mean = sum_w.sum((1, 2)) / act[0].numel()
            # two-pass variance (accurate, and 4x faster than var_mean on
            # CPU); the block is not needed afterwards, so centre in place
            centred = act.sub_(mean[:, None, None, None]).flatten(1)
            var = torch.linalg.vecdot(centred, centred) / centred.shape[1]
            stats.append((sum_w.sum(-1), sum_w.sum(1), sum_dh, mean, var))
        stats = tuple(torch.stack(s) for s in zip(*stats))
        ctx.save_for_backward(f_aug, w_aug, stats[3])
        return stats

    @staticmethod
    @once_differentiable
    def backward(ctx, g_hw, g_dw, g_dh, g_mean, g_var):
        f_aug, w_aug, means = ctx.saved_tensors
        K, D, H = ctx.shape
        B, C1, P = f_aug.shape
        W = P // H
        N = D * P
        device_type = f_aug.device.type
        zeros = f_aug.new_zeros
        g_hw = zeros(B, K, D) if g_hw is None else g_hw
        g_dw = zeros(B, K, H) if g_dw is None else g_dw
        g_dh = zeros(B, K, W) if g_dh is None else g_dh
        g_mean = zeros(B, K) if g_mean is None else g_mean
        g_var = zeros(B, K) if g_var is None else g_var
        grad_w = torch.zeros_like(w_aug)
        grad_f = []
        enabled, dtype = ctx.autocast
        with torch.autocast(device_type, dtype=dtype, enabled=enabled):
            for b, volume in enumerate(ctx.volumes):
                act = F.gelu(volume).reshape(K, D, H, W)
                slope = g_var[b] * (2.0 / N)  # (K, )
                # every term of dL/dG but the last: (K, D, H, 1)
                const = (g_mean[b] / N - slope * means[b])[:, None, None] \
                    + g_hw[b][:, :, None] + g_dw[b][:, None, :]
                grad_act = torch.addcmul(const[..., None], act,
                                         slope[:, None, None, None])
                grad_act += g_dh[b][:, None, None, :]
                grad_vol = torch.ops.aten.gelu_backward(
                    grad_act.reshape_as(volume), volume)
                # not addmm_: under autocast the product may be bf16
                grad_w += grad_vol @ f_aug[b].t()
                grad_f.append(w_aug[:, :-1].t() @ grad_vol)
        ctx.volumes = None
        grad_f = torch.stack(grad_f) if ctx.needs_input_grad[0] else None
        return grad_f, grad_w[:, :-1], grad_w[:, -1], None, None, None


@MODELS.register_module()
class Pose3DVolumeHead(BaseModule):
    """POTTER's 3D hand pose head (official Ego-Exo4D baseline).

    Layers: ``feat_conv`` (1x1, C -> ``feat_channels``) + GELU +
    ``feat_norm`` (GroupNorm, 1 group); ``volume_conv`` (1x1 to K * D) reshaped
    to a (B, K, D, H, W) volume; ``joint_conv1`` (1x1x1, K -> K) + GELU +
    ``joint_norm`` (GroupNorm, K groups) + ``joint_conv2``; sums over (D, H),
    (D, W), (H, W) concatenated to (B, K, W + H + D); ``reg_fc1`` + ReLU +
    ``reg_norm`` (GroupNorm, K groups) + ``reg_fc2`` -> (B, K, 3).

    Args:
        codec (dict | object): The codec that encoded the targets; its
            ``decode`` turns (B, K, 3) predictions into wrist-relative mm.
        loss (dict | nn.Module): Loss over (pred, target, target_weight).
            Defaults to ``dict(type='MaskedMSELoss')`` (the official loss).
        in_channels (int): C of the backbone features. Defaults to 64.
        feat_channels (int): Channels before the volume. Defaults to 256.
        num_joints (int): K. Defaults to 21.
        depth_size (int): D. Defaults to 56.
        heatmap_size (Sequence[int]): (H, W) of the features, which fixes the
            input width of ``reg_fc1`` (W + H + D). Defaults to (56, 56)
            (224x224 images).
        hidden_dims (int): Hidden width of the regression MLP. Defaults to 512.
        impl (str): ``'fast'`` or ``'reference'`` (see module docstring).
            Defaults to ``'fast'``.
        init_cfg (dict | list, optional): mmengine init config.
    """

    def __init__(self, codec: Union[ConfigType, object],
                 loss: Optional[Union[ConfigType, nn.Module]] = None,
                 in_channels: int = 64, feat_channels: int = 256,
                 num_joints: int = 21, depth_size: int = 56,
                 heatmap_size: Sequence[int] = (56, 56),
                 hidden_dims: int = 512, impl: str = 'fast',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if impl not in IMPLS:
            raise ValueError(f'impl must be one of {IMPLS}, got {impl!r}')
        self.impl = impl
        self.num_joints = num_joints
        self.depth_size = depth_size
        self.heatmap_size = tuple(heatmap_size)
        K = num_joints
        self.feat_conv = nn.Conv2d(in_channels, feat_channels, 1)
        self.feat_norm = nn.GroupNorm(1, feat_channels)
        self.volume_conv = nn.Conv2d(feat_channels, K * depth_size, 1)
        self.joint_conv1 = nn.Conv3d(K, K, 1)
        self.joint_norm = nn.GroupNorm(K, K)
        self.joint_conv2 = nn.Conv3d(K, K, 1)
        H, W = self.heatmap_size
        self.reg_fc1 = nn.Linear(W + H + depth_size, hidden_dims)
        self.reg_norm = nn.GroupNorm(K, K)
        self.reg_fc2 = nn.Linear(hidden_dims, 3)
        self.codec = build_module(codec, KEYPOINT_CODECS)
        self.loss_module = build_module(
            loss if loss is not None else dict(type='MaskedMSELoss'), MODELS)

    def _marginals_reference(self, feats: Tensor) -> Tensor:
        B, _, H, W = feats.shape
        volume = self.volume_conv(feats).reshape(B, self.num_joints,
                                                 self.depth_size, H, W)
        volume = self.joint_conv1(volume)
        volume = self.joint_conv2(self.joint_norm(F.gelu(volume)))
        return torch.cat(
            [volume.sum((2, 3)), volume.sum((2, 4)), volume.sum((3, 4))], dim=2)

    def _folded_volume_conv(self) -> Tuple[Tensor, Tensor]:
        """``volume_conv`` followed by ``joint_conv1`` as one (K*D, C) conv."""
        K, D = self.num_joints, self.depth_size
        mix = self.joint_conv1.weight.reshape(K, K)
        weight = self.volume_conv.weight.reshape(K, D, -1)
        bias = self.volume_conv.bias.reshape(K, D)
        weight = torch.einsum('kj,jdc->kdc', mix, weight).reshape(K * D, -1)
        bias = (mix @ bias + self.joint_conv1.bias[:, None]).reshape(K * D)
        return weight, bias

    def _marginals_fast(self, feats: Tensor) -> Tensor:
        B, _, H, W = feats.shape
        K, D = self.num_joints, self.depth_size
        weight, bias = self._folded_volume_conv()
        args = (feats.reshape(B, -1, H * W), weight, bias, K, D, H)
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
            stats = volume_stats(*args)
        else:
            stats = VolumeStats.apply(*args)
        sum_hw, sum_dw, sum_dh, mean, var = stats
        # GroupNorm(K) is an affine map per (sample, joint): scale * x + shift
        scale = self.joint_norm.weight * torch.rsqrt(var + self.joint_norm.eps)
        shift = self.joint_norm.bias - mean * scale
        normed = torch.cat([
            scale[..., None] * sum_dh + (shift * (D * H))[..., None],
            scale[..., None] * sum_dw + (shift * (D * W))[..., None],
            scale[..., None] * sum_hw + (shift * (H * W))[..., None],
        ], dim=2)  # (B, K, W + H + D)
        # joint_conv2 commutes with the sums; its bias is summed once per voxel
        counts = normed.new_tensor([D * H] * W + [D * W] * H + [H * W] * D)
        mix = self.joint_conv2.weight.reshape(K, K)
        return mix @ normed + self.joint_conv2.bias[:, None] * counts

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Regress the joints from the features through the volume.

        Args:
            feats (Tensor | Sequence[Tensor]): (B, C, H, W) backbone features,
                or a sequence whose first item they are (a backbone that also
                returns low-resolution features).

        Returns:
            Tensor: (B, K, 3) predictions in the codec's normalised space.
        """
        if not isinstance(feats, Tensor):
            feats = feats[0]
        if tuple(feats.shape[-2:]) != self.heatmap_size:
            raise ValueError(
                f'Pose3DVolumeHead built for {self.heatmap_size} features '
                f'(heatmap_size) got {tuple(feats.shape[-2:])}; set '
                f'heatmap_size to the input size / 4')
        if self.impl == 'reference':
            x = self.feat_norm(F.gelu(self.feat_conv(feats)))
            marginals = self._marginals_reference(x)
        else:
            x = self.feat_norm(F.gelu(conv1x1_as_matmul(feats, self.feat_conv)))
            marginals = self._marginals_fast(x)
        x = self.reg_norm(F.relu(self.reg_fc1(marginals)))
        return self.reg_fc2(x)

    def loss(self, feats: Union[Tensor, Sequence[Tensor]],
             data_samples: Dict) -> Dict[str, Tensor]:
        """Loss against ``data_samples['target']`` (B, K, 3) weighted by
        ``data_samples['target_weight']`` (B, K).

        Returns:
            dict[str, Tensor]: ``loss_kpt`` and ``mpjpe_mm``, the mean
            wrist-relative joint error in mm over joints with weight > 0
            (logged only: detached, and its name holds no ``loss``).
        """
        pred = self.forward(feats)
        target = data_samples['target'].to(pred)
        weight = data_samples['target_weight'].to(pred)
        losses = dict(loss_kpt=self.loss_module(pred, target, weight))
        with torch.no_grad():
            error = (self.codec.decode(pred) - self.codec.decode(target)).norm(
                dim=-1)
            valid = weight > 0
            # where() keeps NaN targets of invalid joints out of the sum
            error = torch.where(valid, error, error.new_zeros(()))
            losses['mpjpe_mm'] = error.sum() / valid.sum().clamp(min=1)
        return losses

    def predict(self, feats: Union[Tensor, Sequence[Tensor]],
                data_samples: Dict) -> Tensor:
        """Returns (B, K, 3) wrist-relative predictions in mm."""
        return self.codec.decode(self.forward(feats))


__all__ = ['Pose3DVolumeHead', 'VolumeStats', 'volume_stats']
