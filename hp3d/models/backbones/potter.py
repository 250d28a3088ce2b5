"""POTTER: pooling-attention transformers for classification and 3D hand pose.

Note:
    B: batch size, C: channels, H, W: feature height/width in pixels,
    G: embed-wise groups (32), K: joints.

Reads top to bottom: pooling helpers, blocks (pooling attention, MLP, block),
up-sampling, stages, the networks (``PoolAttnFormer`` with its named variants
``s12``/``s24`` and the high-resolution ``PoolAttnFormerHR``), then the key map
to and from the official checkpoints and the pretrained loading they share.

Two implementations compute the same function from the same state dict:
``impl='reference'`` follows the official code op by op (adaptive pools,
(B, H*W, C) transposes, 1x1 convs, nearest up-sampling) and is kept as the
baseline that tests and ``tools/analysis_tools/benchmark_potter.py`` compare
against; ``impl='fast'`` (default) pools by reshape-means or pooling matrices,
computes the embed-wise attention in place in channels-first layout, fuses the
patch-wise product with its depth-wise conv (:class:`PoolAttn`), runs the MLP's
1x1 convs of large maps as GEMMs with in-place dropout (:class:`Mlp`), adds the
layer-scaled branches in one ``addcmul`` and turns each nearest up-sampling +
3x3 conv into one 2x2 conv at the low resolution (:class:`PatchSplit`).
docs/benchmarks_potter.md has the measurements.
"""
import os.path as osp
from functools import lru_cache, partial
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader
from torch import Tensor, nn

from hp3d.registry import MODELS
from hp3d.utils import OptMultiConfig

IMPLS = ('fast', 'reference')
# Output size of every pooling attention pool (the official value).
POOL_SIZE = 4
# Embed-wise pooling attention splits the C channels into this many groups.
EMBED_GROUPS = 32


def _check_impl(impl: str) -> None:
    if impl not in IMPLS:
        raise ValueError(f'impl must be one of {IMPLS}, got {impl!r}')


@lru_cache(maxsize=None)
def adaptive_pool_matrix(in_size: int, out_size: int, dtype: torch.dtype,
                         device: torch.device) -> Tensor:
    """The (out_size, in_size) matrix ``P`` of 1D adaptive average pooling.

    ``P @ x`` pools the first axis of ``x`` exactly as
    ``nn.AdaptiveAvgPool1d(out_size)`` does (bins may overlap or repeat).
    Cached: the few sizes of a model are built once per dtype and device.
    """
    rows = []
    for i in range(out_size):
        # the bins of torch's adaptive average pooling
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        rows.append([1.0 / (end - start) if start <= j < end else 0.0
                     for j in range(in_size)])
    # built from Python numbers: a constant when traced (ONNX export), and a
    # normal tensor even when first asked for under inference_mode, so the
    # cached matrix can serve autograd later
    with torch.inference_mode(False):
        return torch.tensor(rows, dtype=dtype, device=device)


def pool_last_dim(x: Tensor, out_size: int) -> Tensor:
    """Adaptive average pooling of the last axis of ``x`` to ``out_size``.

    A reshape-mean when the size divides, else a product with the pooling
    matrix (both equal ``nn.AdaptiveAvgPool`` up to float rounding).
    """
    size = x.shape[-1]
    if size == out_size:
        return x
    if size % out_size == 0:
        return x.unflatten(-1, (out_size, size // out_size)).mean(-1)
    pool = adaptive_pool_matrix(size, out_size, x.dtype, x.device)
    return (x.reshape(-1, size) @ pool.t()).reshape(*x.shape[:-1], out_size)


def pool_matmul(pool: Tensor, x: Tensor) -> Tensor:
    """``pool @ x`` for a (O, S) matrix and (N, S, R) ``x``, as one ``bmm``.

    Spelled out because ``torch.matmul``'s own broadcasting of a 2D left
    operand traces to reshapes that break a dynamic batch axis in ONNX.
    """
    return torch.bmm(pool.expand(x.shape[0], -1, -1), x)


def pool_dim(x: Tensor, dim: int, out_size: int) -> Tensor:
    """Adaptive average pooling of axis ``dim`` (not the last) to ``out_size``.

    Same rules as :func:`pool_last_dim`; the matrix product keeps the axes
    after ``dim`` contiguous, so no transpose is needed.
    """
    size = x.shape[dim]
    if size == out_size:
        return x
    if size % out_size == 0:
        return x.unflatten(dim, (out_size, size // out_size)).mean(dim + 1)
    pool = adaptive_pool_matrix(size, out_size, x.dtype, x.device)
    rest = x.shape[dim + 1:]
    out = pool_matmul(pool, x.reshape(-1, size, rest.numel()))
    return out.reshape(*x.shape[:dim], out_size, *rest)


class GroupNorm1(nn.GroupNorm):
    """GroupNorm with one group: each sample normalised over (C, H, W).

    Args:
        num_channels (int): C.
    """

    def __init__(self, num_channels: int) -> None:
        super().__init__(1, num_channels)


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch of a sample.

    Args:
        drop_prob (float): Probability of dropping a sample's branch.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class PoolAttn(nn.Module):
    """Pooling attention (POTTER's token mixer).

    Patch-wise: ``P_w(x) @ P_h(x)`` per channel, where ``P_w`` pools the width
    to 4 (B, C, H, 4) and ``P_h`` the height to 4 (B, C, 4, W). Embed-wise: per
    pixel, the C channels form a (G=32, C/G) matrix ``E``; the product of ``E``
    with its columns pooled to 4 (G, 4) and its rows pooled to 4 (4, C/G).
    Each result passes a depth-wise 3x3 conv (``proj0``, ``proj1``); their sum
    is normalised and mixed by a third one (``proj2``).

    Args:
        dim (int): C, a multiple of 32.
        impl (str): ``'fast'`` or ``'reference'``. Defaults to ``'fast'``.
    """

    def __init__(self, dim: int, impl: str = 'fast') -> None:
        super().__init__()
        _check_impl(impl)
        if dim % EMBED_GROUPS:
            raise ValueError(f'PoolAttn needs dim divisible by {EMBED_GROUPS}, '
                             f'got {dim}')
        self.impl = impl
        if impl == 'reference':
            self.patch_pool_w = nn.AdaptiveAvgPool2d((None, POOL_SIZE))
            self.patch_pool_h = nn.AdaptiveAvgPool2d((POOL_SIZE, None))
            self.embed_pool_cols = nn.AdaptiveAvgPool2d((None, POOL_SIZE))
            self.embed_pool_rows = nn.AdaptiveAvgPool2d((POOL_SIZE, None))
        self.norm = GroupNorm1(dim)
        self.proj0 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.proj1 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.proj2 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def _mix_reference(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        B, C, H, W = x.shape
        patch = self.patch_pool_w(x) @ self.patch_pool_h(x)
        tokens = x.reshape(B, C, H * W).transpose(1, 2).reshape(
            B, H * W, EMBED_GROUPS, C // EMBED_GROUPS)
        embed = self.embed_pool_cols(tokens) @ self.embed_pool_rows(tokens)
        embed = embed.reshape(B, H * W, C).transpose(1, 2).reshape(B, C, H, W)
        return patch, embed

    def _embed_fast(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        # channel c = g * (C/G) + j: the per-pixel (G, C/G) matrices E in
        # channels-first layout, (B, G, C/G, H*W), so no pixel moves
        cg = C // EMBED_GROUPS
        groups = x.reshape(B, EMBED_GROUPS, cg, H * W)
        rows = pool_dim(groups, 1, POOL_SIZE)  # (B, 4, C/G, H*W)
        if cg < POOL_SIZE:
            # (E P_c^T)(P_g E) = E (P_c^T P_g E): a (C/G, C/G) factor per pixel
            # takes C/G < 4 products instead of 4
            pool = adaptive_pool_matrix(cg, POOL_SIZE, x.dtype, x.device)
            right = pool_matmul(pool.t(), rows.reshape(B, POOL_SIZE, -1))
            right = right.reshape(B, cg, cg, H * W)
            left = groups
        else:
            left = pool_dim(groups, 2, POOL_SIZE)  # (B, G, 4, H*W)
            right = rows
        # the tiny per-pixel matmul as a sum of broadcast products over the
        # inner axis, each a contiguous pass over (B, G, C/G, H*W)
        embed = left[:, :, :1] * right[:, None, 0]
        for i in range(1, left.shape[2]):
            embed = embed.addcmul_(left[:, :, i:i + 1], right[:, None, i])
        return embed.reshape(B, C, H, W)

    def _add_patch_conv_fast(self, x: Tensor, out: Tensor) -> Tensor:
        """``out + proj0(P_w(x) @ P_h(x))`` as one batched GEMM.

        The product has rank 4 per channel, and so does its depth-wise 3x3
        conv: ``sum_dy (P_w(x) shifted by dy) @ (P_h(x) filtered by the
        kernel's row dy along W)``, zero beyond the border as the conv's
        padding. Stacking the three shifts (and a ones column against the
        bias) makes it one (H, 13) @ (13, W) product per channel, added to
        ``out`` by ``baddbmm``: neither the product nor the conv's input or
        output is ever materialised.
        """
        B, C, H, W = x.shape
        cols = F.pad(pool_last_dim(x, POOL_SIZE), (0, 0, 1, 1))  # (B,C,H+2,4)
        left = torch.cat([cols[:, :, dy:dy + H] for dy in range(3)] +
                         [x.new_ones(B, C, H, 1)], dim=3)
        # each kernel row dy filters the rows of P_h(x) along W (small maps:
        # nine multiply-adds over (B, C, 4, W))
        rows = F.pad(pool_dim(x, 2, POOL_SIZE), (1, 1))  # (B, C, 4, W + 2)
        kernel = self.proj0.weight[None, :, 0, :, :, None, None]
        right = [
            sum(kernel[:, :, dy, dx] * rows[..., dx:dx + W] for dx in range(3))
            for dy in range(3)
        ]
        right.append(self.proj0.bias[None, :, None, None].expand(B, C, 1, W))
        right = torch.cat(right, dim=2)  # (B, C, 13, W)
        out = torch.baddbmm(out.reshape(B * C, H, W),
                            left.reshape(B * C, H, -1),
                            right.reshape(B * C, -1, W))
        return out.reshape(B, C, H, W)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        if self.impl == 'reference':
            patch, embed = self._mix_reference(x)
            out = self.proj0(patch) + self.proj1(embed)
        else:
            out = self._add_patch_conv_fast(x, self.proj1(self._embed_fast(x)))
        return self.proj2(self.norm(out))


def dropout_(x: Tensor, p: float, training: bool) -> Tensor:
    """In-place dropout of ``x`` with a bool mask.

    The same Bernoulli draws as ``F.dropout`` (same generator calls in the
    same element order), but sampled into bools: faster on CPU than the
    float mask ``F.dropout`` draws, and a 4x smaller tensor to keep for
    backward.
    """
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0)
    keep = torch.empty_like(x, dtype=torch.bool).bernoulli_(1.0 - p)
    return x.mul_(keep).mul_(1.0 / (1.0 - p))


def conv1x1_as_matmul(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """A 1x1 ``conv`` of (B, C, H, W) ``x`` as one batched GEMM."""
    B, C, H, W = x.shape
    weight = conv.weight.reshape(conv.out_channels, C)
    out = torch.baddbmm(conv.bias[:, None], weight.expand(B, -1, -1),
                        x.reshape(B, C, H * W))
    return out.reshape(B, conv.out_channels, H, W)


class Mlp(nn.Module):
    """1x1 conv -> GELU -> dropout -> 1x1 conv -> dropout.

    Args:
        dim (int): Input and output channels C.
        hidden_dim (int): Hidden channels.
        drop (float): Dropout rate.
        impl (str): ``'fast'`` runs the 1x1 convs of large maps as GEMMs
            (:func:`conv1x1_as_matmul`); ``'reference'`` always as convs.
    """

    # On CPU, per-sample GEMMs beat the 1x1 conv on channels-first maps of
    # 28x28 and more (1.3-1.8x, batch 16, training and inference), and lose on
    # 7x7 maps, where the conv's batched weight gradient wins (2x).
    min_matmul_pixels = 28 * 28

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0,
                 impl: str = 'fast') -> None:
        super().__init__()
        _check_impl(impl)
        self.impl = impl
        self.fc1 = nn.Conv2d(dim, hidden_dim, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_dim, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        if self.impl == 'reference':
            x = self.drop(self.act(self.fc1(x)))
            return self.drop(self.fc2(x))
        if x.shape[-2] * x.shape[-1] < self.min_matmul_pixels:
            fc1, fc2 = self.fc1, self.fc2
        else:
            fc1 = partial(conv1x1_as_matmul, conv=self.fc1)
            fc2 = partial(conv1x1_as_matmul, conv=self.fc2)
        # in-place dropout: neither GELU's nor a conv's backward needs its
        # output, so the masked copy (a full hidden map) is never allocated
        p, train = self.drop.p, self.training
        x = fc1(x)
        # GELU's backward needs its input: in place (no new hidden map to
        # allocate and fault in) only when nothing will backpropagate
        x = self.act(x) if x.requires_grad else torch.ops.aten.gelu_(x)
        x = dropout_(x, p, train)
        return dropout_(fc2(x), p, train)


class PoolAttnBlock(nn.Module):
    """``x + ls1 * PoolAttn(norm1(x))`` then ``x + ls2 * Mlp(norm2(x))``.

    Args:
        dim (int): C.
        mlp_ratio (float): MLP hidden channels / C.
        drop (float): Dropout rate in the MLP.
        drop_path (float): Stochastic depth rate of both branches.
        layer_scale_init (float): Initial value of the layer scales.
        impl (str): ``'fast'`` or ``'reference'`` token mixer and MLP; the
            fast block also adds each scaled (and stochastic-depth masked)
            branch in one ``addcmul``.
    """

    def __init__(self, dim: int, mlp_ratio: float, drop: float = 0.0,
                 drop_path: float = 0.0, layer_scale_init: float = 1e-5,
                 impl: str = 'fast') -> None:
        super().__init__()
        self.impl = impl
        self.norm1 = GroupNorm1(dim)
        self.token_mixer = PoolAttn(dim, impl=impl)
        self.norm2 = GroupNorm1(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop, impl=impl)
        self.drop_path = DropPath(drop_path)
        self.layer_scale_1 = nn.Parameter(torch.full((dim, ), layer_scale_init))
        self.layer_scale_2 = nn.Parameter(torch.full((dim, ), layer_scale_init))

    def _add_branch(self, x: Tensor, scale: Tensor, branch: Tensor) -> Tensor:
        scale = scale[:, None, None]
        if self.impl == 'reference':
            return x + self.drop_path(scale * branch)
        # stochastic depth's per-sample mask folded into a (B, C, 1, 1) scale:
        # one pass over the map instead of three
        scale = self.drop_path(scale.expand(x.shape[0], -1, -1, -1))
        return torch.addcmul(x, scale, branch)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        x = self._add_branch(x, self.layer_scale_1,
                             self.token_mixer(self.norm1(x)))
        return self._add_branch(x, self.layer_scale_2, self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """Strided conv embedding: the 7x7/4 stem and the 3x3/2 down-sampling.

    Args:
        in_channels (int): Input channels.
        embed_dim (int): Output channels.
        kernel_size (int): Conv kernel size.
        stride (int): Conv stride.
        padding (int): Conv padding.
    """

    def __init__(self, in_channels: int, embed_dim: int, kernel_size: int,
                 stride: int, padding: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size, stride,
                              padding)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class PatchSplit(nn.Module):
    """x2 nearest up-sampling, 3x3 conv, optional GroupNorm1.

    The fast path never builds the up-sampled map. An output pixel of parity
    (a, b) sees a 2x2 window of the input, each tap the sum of the 3x3 weights
    that land on the same input pixel, so one 2x2 conv with 4x the output
    channels (one set per parity) at the input resolution, padded by 1, gives
    all four parities, read at offsets (a, b). That is 16 instead of 36
    multiply-adds per input pixel and channel pair.

    Args:
        in_channels (int): Input channels.
        embed_dim (int): Output channels.
        with_norm (bool): Whether a GroupNorm1 follows the conv.
        impl (str): ``'fast'`` or ``'reference'``.
    """

    # Inputs smaller than this (per side) take the reference path in fast
    # mode: their (H+1)(W+1) border overhead made the 2x2 conv slower on CPU
    # (7x7 inputs), while 14x14 and 28x28 ran forward+backward 1.5-1.9x faster.
    min_subpixel_size = 14

    def __init__(self, in_channels: int, embed_dim: int, with_norm: bool,
                 impl: str = 'fast') -> None:
        super().__init__()
        _check_impl(impl)
        self.impl = impl
        self.proj = nn.Conv2d(in_channels, embed_dim, 3, padding=1)
        self.norm = GroupNorm1(embed_dim) if with_norm else nn.Identity()

    def _subpixel_conv(self, x: Tensor) -> Tensor:
        B, _, H, W = x.shape
        out_channels = self.proj.out_channels
        # fold[a][i][y]: 3x3 row y lands on window row i for output parity a
        # (parity 0: input offsets -1, 0 take k0 and k1 + k2; parity 1:
        # offsets 0, +1 take k0 + k1 and k2); the same for columns
        weight = self.proj.weight
        fold = weight.new_tensor([[[1, 0, 0], [0, 1, 1]],
                                  [[1, 1, 0], [0, 0, 1]]])
        weight = torch.einsum('aiy,bjx,ocyx->oabcij', fold, fold, weight)
        out = F.conv2d(x, weight.reshape(out_channels * 4, -1, 2, 2),
                       self.proj.bias.repeat_interleave(4), padding=1)
        out = out.reshape(B, out_channels, 2, 2, H + 1, W + 1)
        rows = [
            torch.stack([out[:, :, a, b, a:a + H, b:b + W] for b in (0, 1)],
                        dim=-1) for a in (0, 1)
        ]  # each (B, C_out, H, W, 2): columns interleaved
        return torch.stack(rows, dim=3).reshape(B, out_channels, 2 * H, 2 * W)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, 2H, 2W)."""
        # ONNX needs a convolution's weight as a constant, not computed
        if (self.impl == 'fast' and not torch.onnx.is_in_onnx_export()
                and min(x.shape[-2:]) >= self.min_subpixel_size):
            x = self._subpixel_conv(x)
        else:
            x = self.proj(F.interpolate(x, scale_factor=2, mode='nearest'))
        return self.norm(x)


class PoolAttnStage(nn.Sequential):
    """A sequence of :class:`PoolAttnBlock` of the same width.

    Args:
        dim (int): C.
        depth (int): Number of blocks.
        mlp_ratio (float): MLP hidden channels / C.
        drop (float): Dropout rate in the MLPs.
        drop_paths (Sequence[float]): Stochastic depth rate of each block.
        layer_scale_init (float): Initial value of the layer scales.
        impl (str): ``'fast'`` or ``'reference'``.
    """

    def __init__(self, dim: int, depth: int, mlp_ratio: float, drop: float,
                 drop_paths: Sequence[float], layer_scale_init: float,
                 impl: str) -> None:
        super().__init__(*[
            PoolAttnBlock(dim, mlp_ratio, drop, drop_paths[i], layer_scale_init,
                          impl) for i in range(depth)
        ])


def _init_trunc_normal(module: nn.Module) -> None:
    """The official ``PoolAttnFormer_hr`` init, for ``nn.Module.apply``.

    Truncated normal (std 0.02) weights of every conv and linear layer, zero
    biases of the linear layers and of each :class:`Mlp`'s 1x1 convs
    (``fc1``, ``fc2``: the official ``Mlp._init_weights``); the other conv
    biases keep PyTorch's default, as officially.
    """
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, Mlp):
        nn.init.zeros_(module.fc1.bias)
        nn.init.zeros_(module.fc2.bias)


@MODELS.register_module()
class PoolAttnFormer(BaseModule):
    """POTTER's pooling-attention transformer (PoolAttnFormer).

    A 7x7/4 conv stem, then four stages of :class:`PoolAttnBlock` with 3x3/2
    conv down-sampling between them. The module names and shapes equal the
    official ImageNet model, so official classification checkpoints load with
    ``strict=True`` (``with_cls_head=True``).

    Args:
        arch (str | dict): ``'s12'``, ``'s24'`` or a dict with ``layers``,
            ``embed_dims`` and ``mlp_ratios`` (four values each).
            Defaults to ``'s12'``.
        in_channels (int): Input image channels. Defaults to 3.
        with_cls_head (bool): Add the classifier (``norm`` + ``head``) and
            return (B, num_classes) logits. Otherwise return the features of
            ``out_indices``, each normalised by ``out_norms``.
            Defaults to False.
        num_classes (int): Classes of the classifier. Defaults to 1000.
        out_indices (Sequence[int]): Stages whose features are returned when
            ``with_cls_head`` is False. Defaults to (3, ).
        drop_rate (float): Dropout rate in the MLPs. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate of the last block,
            linearly increasing from 0 over the blocks. Defaults to 0.
        layer_scale_init (float): Initial layer scale. Defaults to 1e-5.
        impl (str): ``'fast'`` or ``'reference'`` (see module docstring).
            Defaults to ``'fast'``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...,
            prefix=...)`` loads the name- and shape-matching tensors of a
            checkpoint (see :func:`load_matching_weights`); other configs go to
            mmengine. Defaults to None.
    """

    arch_settings = {
        's12': dict(layers=(2, 2, 6, 2), embed_dims=(64, 128, 320, 512),
                    mlp_ratios=(4, 4, 4, 4)),
        's24': dict(layers=(4, 4, 12, 4), embed_dims=(64, 128, 320, 512),
                    mlp_ratios=(4, 4, 4, 4)),
    }

    def __init__(self, arch: Union[str, Dict] = 's12', in_channels: int = 3,
                 with_cls_head: bool = False, num_classes: int = 1000,
                 out_indices: Sequence[int] = (3, ), drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, layer_scale_init: float = 1e-5,
                 impl: str = 'fast', init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = self._parse_arch(arch)
        layers, dims = arch['layers'], arch['embed_dims']
        num_stages = len(layers)
        self.embed_dims = tuple(dims)
        self.with_cls_head = with_cls_head
        if any(i >= num_stages or i < -num_stages for i in out_indices):
            raise ValueError(f'out_indices {tuple(out_indices)} out of range '
                             f'for {num_stages} stages')
        self.out_indices = tuple(i % num_stages for i in out_indices)

        self.patch_embed = PatchEmbed(in_channels, dims[0], 7, 4, 2)
        total = sum(layers)
        network = []
        for i, depth in enumerate(layers):
            first = sum(layers[:i])
            drop_paths = [
                drop_path_rate * (first + j) / max(total - 1, 1)
                for j in range(depth)
            ]
            network.append(
                PoolAttnStage(dims[i], depth, arch['mlp_ratios'][i], drop_rate,
                              drop_paths, layer_scale_init, impl))
            if i < num_stages - 1:
                network.append(PatchEmbed(dims[i], dims[i + 1], 3, 2, 1))
        # stages at even indices, down-sampling at odd ones (official layout)
        self.network = nn.ModuleList(network)

        if with_cls_head:
            self.norm = GroupNorm1(dims[-1])
            self.head = nn.Linear(dims[-1], num_classes)
        else:
            self.out_norms = nn.ModuleDict(
                {str(i): GroupNorm1(dims[i]) for i in self.out_indices})
        self.apply(_init_trunc_normal)

    def _parse_arch(self, arch: Union[str, Dict]) -> Dict:
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ValueError(f'Unknown PoolAttnFormer arch {arch!r}; '
                                 f'choose from {sorted(self.arch_settings)} '
                                 f'or pass a dict')
            return self.arch_settings[arch]
        missing = {'layers', 'embed_dims', 'mlp_ratios'} - set(arch)
        if missing:
            raise ValueError(f'arch dict lacks {sorted(missing)}')
        return arch

    def init_weights(self) -> None:
        """Load ``init_cfg``'s pretrained checkpoint if any, else mmengine."""
        if _is_pretrained_cfg(self.init_cfg):
            load_matching_weights(self, self.init_cfg['checkpoint'],
                                  self.init_cfg.get('prefix'))
            self._is_init = True
        else:
            super().init_weights()

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        """Run the four stages (and the classifier, if built).

        Args:
            x (Tensor): (B, 3, H, W) normalised images.

        Returns:
            Tensor | tuple[Tensor]: (B, num_classes) logits with the
            classifier, else the (B, C_i, H / 2^(i+2), W / 2^(i+2)) features
            of each stage i in ``out_indices``.
        """
        x = self.patch_embed(x)
        outs = []
        for idx, layer in enumerate(self.network):
            x = layer(x)
            stage = idx // 2
            if (not self.with_cls_head and idx % 2 == 0
                    and stage in self.out_indices):
                outs.append(self.out_norms[str(stage)](x))
        if self.with_cls_head:
            return self.head(self.norm(x).mean((-2, -1)))
        return tuple(outs)


def _check_per_branch(num_branches: int, **settings: Sequence) -> None:
    """Raise unless each setting has one value per HR branch: ``zip`` would
    silently drop the branches (and basic stages) beyond the shortest."""
    for name, values in settings.items():
        if len(values) != num_branches:
            raise ValueError(
                f'{name} needs {num_branches} values (one per HR branch: the '
                f'number of basic stages minus one), got {tuple(values)}')


class HRStream(nn.Module):
    """The high-resolution stream of POTTER's pose models.

    Branch i (1..3) up-samples the basic stream's stage-i features to stage 0's
    resolution with i :class:`PatchSplit` layers (normalised but the last),
    adds the previous branch's output (stage 0's features for branch 1) and
    refines the sum with PoolAttn blocks at C_0 channels.

    Args:
        embed_dims (Sequence[int]): Channels of the four basic stages.
        depths (Sequence[int]): Blocks of each of the three branches.
        mlp_ratios (Sequence[float]): MLP ratio of each branch.
        drop_rate (float): Dropout rate in the MLPs.
        drop_path_rate (float): Stochastic depth, linear from 0 in each branch.
        layer_scale_init (float): Initial layer scale.
        impl (str): ``'fast'`` or ``'reference'``.

    Raises:
        ValueError: ``depths`` or ``mlp_ratios`` has not one value per branch
            (``len(embed_dims) - 1``).
    """

    def __init__(self, embed_dims: Sequence[int], depths: Sequence[int],
                 mlp_ratios: Sequence[float], drop_rate: float,
                 drop_path_rate: float, layer_scale_init: float,
                 impl: str) -> None:
        super().__init__()
        _check_per_branch(len(embed_dims) - 1, depths=depths,
                          mlp_ratios=mlp_ratios)
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for branch, (depth, ratio) in enumerate(zip(depths, mlp_ratios), 1):
            self.ups.append(
                nn.Sequential(*[
                    PatchSplit(embed_dims[level], embed_dims[level - 1],
                               with_norm=level > 1, impl=impl)
                    for level in range(branch, 0, -1)
                ]))
            # linear from 0 to drop_path_rate within the branch
            drop_paths = [drop_path_rate * i / max(depth - 1, 1)
                          for i in range(depth)]
            self.blocks.append(
                PoolAttnStage(embed_dims[0], depth, ratio, drop_rate,
                              drop_paths, layer_scale_init, impl))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Fuse the basic stream's features into one high-resolution map.

        Args:
            feats (Sequence[Tensor]): The four (B, C_i, H_i, W_i) basic stream
                features, H_i = H_0 / 2^i.

        Returns:
            Tensor: (B, C_0, H_0, W_0).
        """
        x = feats[0]
        for branch, (up, blocks) in enumerate(zip(self.ups, self.blocks), 1):
            x = blocks(up(feats[branch]) + x)
        return x


@MODELS.register_module()
class PoolAttnFormerHR(BaseModule):
    """POTTER's high-resolution backbone for pose (official PoolAttnFormer_hr).

    The basic stream (a :class:`PoolAttnFormer` returning all four normalised
    stages) feeds the :class:`HRStream`; the result is normalised
    (``out_norm``) into (B, C_0, H/4, W/4) features for a pose head.

    Args:
        arch (str | dict): Basic stream arch (see :class:`PoolAttnFormer`).
            Defaults to ``'s12'``.
        hr_depths (Sequence[int]): Blocks of the HR branches, one per basic
            stage but the first (three for four stages). Defaults to
            (2, 2, 4) (the official values).
        hr_mlp_ratios (Sequence[float]): MLP ratios of the HR branches, as
            many as ``hr_depths``. Defaults to (2, 2, 4).
        return_low_res (bool): Also return the normalised last-stage features
            (B, C_3, H/32, W/32) as the official model does. When False their
            norm (``low_res_norm``, kept so official checkpoints load
            strictly) is frozen, so distributed training waits for no
            gradient from it. Defaults to False.
        drop_rate (float): Dropout rate in the MLPs. Defaults to 0 (the
            official Ego-Exo4D config sets 0.1).
        drop_path_rate (float): Stochastic depth rate. Defaults to 0 (the
            official config: 0.1).
        layer_scale_init (float): Initial layer scale. Defaults to 1e-5.
        impl (str): ``'fast'`` or ``'reference'``. Defaults to ``'fast'``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)``
            loads by :func:`load_matching_weights`: an official ImageNet
            classification checkpoint fills the basic stream's stages (not its
            ``out_norms``, the HR stream or the output norms); an hp3d-layout
            checkpoint (this backbone's state dict, or an hp3d estimator's
            with ``backbone.*`` keys) fills everything. Official Ego-Exo4D hand
            checkpoints use other names: convert them with
            ``tools/model_converters/potter_to_hp3d.py`` first (unconverted,
            nothing matches and loading raises). Defaults to None.

    Raises:
        ValueError: ``hr_depths`` or ``hr_mlp_ratios`` has not one value per
            HR branch.
    """

    def __init__(self, arch: Union[str, Dict] = 's12',
                 hr_depths: Sequence[int] = (2, 2, 4),
                 hr_mlp_ratios: Sequence[float] = (2, 2, 4),
                 return_low_res: bool = False, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, layer_scale_init: float = 1e-5,
                 impl: str = 'fast', init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.basic_stream = PoolAttnFormer(
            arch, out_indices=(0, 1, 2, 3), drop_rate=drop_rate,
            drop_path_rate=drop_path_rate, layer_scale_init=layer_scale_init,
            impl=impl)
        dims = self.basic_stream.embed_dims
        _check_per_branch(len(dims) - 1, hr_depths=hr_depths,
                          hr_mlp_ratios=hr_mlp_ratios)
        self.hr_stream = HRStream(dims, hr_depths, hr_mlp_ratios, drop_rate,
                                  drop_path_rate, layer_scale_init, impl)
        self.out_norm = GroupNorm1(dims[0])
        self.low_res_norm = GroupNorm1(dims[-1])
        self.return_low_res = return_low_res
        self.low_res_norm.requires_grad_(return_low_res)
        self.hr_stream.apply(_init_trunc_normal)  # the basic stream did its own

    def init_weights(self) -> None:
        """Load ``init_cfg``'s pretrained checkpoint if any, else mmengine."""
        if _is_pretrained_cfg(self.init_cfg):
            load_matching_weights(self, self.init_cfg['checkpoint'],
                                  self.init_cfg.get('prefix'),
                                  target_prefixes=('', 'basic_stream.'))
            self._is_init = True
        else:
            super().init_weights()

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """Basic stream, then the HR stream on its features.

        Args:
            x (Tensor): (B, 3, H, W) normalised images, H and W multiples of 32.

        Returns:
            Tensor | tuple[Tensor, Tensor]: (B, C_0, H/4, W/4) features, and
            with ``return_low_res`` also (B, C_3, H/32, W/32).
        """
        if x.shape[-2] % 32 or x.shape[-1] % 32:
            raise ValueError(f'PoolAttnFormerHR needs input sides divisible by '
                             f'32, got {tuple(x.shape[-2:])}')
        feats = self.basic_stream(x)
        out = self.out_norm(self.hr_stream(feats))
        if self.return_low_res:
            return out, self.low_res_norm(feats[-1])
        return out


# Official Ego-Exo4D hand model (PoolAttnHR_Pose_3D) prefix -> hp3d prefix.
# Inside the basic stream and the HR blocks the names are the official ones.
_HAND_MODEL_PREFIXES = (
    ('poolattnformer_pose.poolattn_cls.norm0.',
     'backbone.basic_stream.out_norms.0.'),
    ('poolattnformer_pose.poolattn_cls.norm2.',
     'backbone.basic_stream.out_norms.1.'),
    ('poolattnformer_pose.poolattn_cls.norm4.',
     'backbone.basic_stream.out_norms.2.'),
    ('poolattnformer_pose.poolattn_cls.norm6.',
     'backbone.basic_stream.out_norms.3.'),
    ('poolattnformer_pose.poolattn_cls.', 'backbone.basic_stream.'),
    ('poolattnformer_pose.stage1.patch_emb1.', 'backbone.hr_stream.ups.0.0.'),
    ('poolattnformer_pose.stage1.patch_emb2.', 'backbone.hr_stream.ups.1.'),
    ('poolattnformer_pose.stage1.patch_emb3.', 'backbone.hr_stream.ups.2.'),
    ('poolattnformer_pose.stage1.Block1.', 'backbone.hr_stream.blocks.0.'),
    ('poolattnformer_pose.stage1.Block2.', 'backbone.hr_stream.blocks.1.'),
    ('poolattnformer_pose.stage1.Block3.', 'backbone.hr_stream.blocks.2.'),
    ('poolattnformer_pose.norm0.', 'backbone.out_norm.'),
    ('poolattnformer_pose.norm3.', 'backbone.low_res_norm.'),
    ('up_sample.0.', 'head.feat_conv.'),
    ('norm1.', 'head.feat_norm.'),
    ('final_layer.', 'head.volume_conv.'),
    ('pose_layer.0.', 'head.joint_conv1.'),
    ('pose_layer.2.', 'head.joint_norm.'),
    ('pose_layer.3.', 'head.joint_conv2.'),
    ('pose_3d_head.0.', 'head.reg_fc1.'),
    ('pose_3d_head.2.', 'head.reg_norm.'),
    ('pose_3d_head.3.', 'head.reg_fc2.'),
)


def _rename(key: str, table: Sequence[Tuple[str, str]]) -> str:
    # longest source prefix first, so 'poolattn_cls.norm0.' wins over
    # 'poolattn_cls.'
    for src, dst in sorted(table, key=lambda pair: -len(pair[0])):
        if key.startswith(src):
            return dst + key[len(src):]
    raise KeyError(f'{key!r} belongs to no known POTTER hand-model module')


def official_to_hp3d(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Rename an official Ego-Exo4D POTTER hand-model state dict to hp3d's.

    The official ``PoolAttnHR_Pose_3D`` keeps its backbone in
    ``poolattnformer_pose`` and its head layers at the top level; hp3d's
    estimator holds ``backbone`` (:class:`PoolAttnFormerHR`) and ``head``
    (``Pose3DVolumeHead``). The prefix table ``_HAND_MODEL_PREFIXES``, where
    the first six official rows follow ``poolattnformer_pose.``::

        poolattn_cls.norm{0,2,4,6}  backbone.basic_stream.out_norms.{0,1,2,3}
        poolattn_cls.*              backbone.basic_stream.*
        stage1.patch_emb1.*         backbone.hr_stream.ups.0.0.*
        stage1.patch_emb{2,3}.*     backbone.hr_stream.ups.{1,2}.*
        stage1.Block{1,2,3}.*       backbone.hr_stream.blocks.{0,1,2}.*
        norm0, norm3                backbone.out_norm, backbone.low_res_norm
        up_sample.0, norm1          head.feat_conv, head.feat_norm
        final_layer                 head.volume_conv
        pose_layer.{0,2,3}          head.joint_conv1, joint_norm, joint_conv2
        pose_3d_head.{0,2,3}        head.reg_fc1, reg_norm, reg_fc2

    A leading ``module.`` (DataParallel) is dropped. Official classification
    checkpoints need no map: :class:`PoolAttnFormer` uses their names.

    Args:
        state_dict (dict[str, Tensor]): Official keys.

    Returns:
        dict[str, Tensor]: The same tensors under hp3d keys, in order.

    Raises:
        KeyError: A key outside the official hand model.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        out[_rename(key, _HAND_MODEL_PREFIXES)] = value
    return out


def hp3d_to_official(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Inverse of :func:`official_to_hp3d`: hp3d estimator keys -> official.

    Args:
        state_dict (dict[str, Tensor]): ``backbone.*`` + ``head.*`` keys.

    Returns:
        dict[str, Tensor]: Keys of the official ``PoolAttnHR_Pose_3D``.

    Raises:
        KeyError: A key outside the POTTER hand model (e.g. a data
            preprocessor buffer).
    """
    table = [(dst, src) for src, dst in _HAND_MODEL_PREFIXES]
    return {_rename(key, table): value for key, value in state_dict.items()}


def _is_pretrained_cfg(init_cfg: OptMultiConfig) -> bool:
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


def _unwrap_state_dict(checkpoint: Dict, prefix: Optional[str]
                       ) -> Dict[str, Tensor]:
    """The tensors of a checkpoint: ``state_dict``/``model`` unwrapped,
    ``prefix`` selected and stripped, then ``module.``/``backbone.`` dropped."""
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and wrapper in checkpoint:
            checkpoint = checkpoint[wrapper]
            break
    if prefix:
        selected = {k[len(prefix):]: v for k, v in checkpoint.items()
                    if k.startswith(prefix)}
        if not selected:
            raise ValueError(f'no checkpoint key starts with prefix {prefix!r}')
        checkpoint = selected
    state_dict = {}
    for key, value in checkpoint.items():
        for strip in ('module.', 'backbone.'):
            if key.startswith(strip):
                key = key[len(strip):]
        state_dict[key] = value
    return state_dict


def load_matching_weights(module: nn.Module, checkpoint: str,
                          prefix: Optional[str] = None,
                          target_prefixes: Sequence[str] = ('', )
                          ) -> Dict[str, List[str]]:
    """Load the tensors of a checkpoint whose name and shape match ``module``.

    A checkpoint key ``k`` (after :func:`_unwrap_state_dict`) fills the first
    ``t + k`` of ``module``'s state dict with the same shape, ``t`` taken from
    ``target_prefixes`` in order (``'basic_stream.'`` lets a classification
    checkpoint fill :class:`PoolAttnFormerHR`'s basic stream). Unlike mmengine's
    ``PretrainedInit`` it skips shape mismatches (e.g. another classifier) and
    reports what it did through the current :class:`MMLogger`. A checkpoint
    of which nothing matches is an error, not a log line: an unconverted
    official hand checkpoint would otherwise leave the model at random init.

    Args:
        module (nn.Module): The model to fill.
        checkpoint (str): Local checkpoint path (no download).
        prefix (str, optional): Only keys with this prefix, stripped.
        target_prefixes (Sequence[str]): Candidate prefixes in ``module``.

    Returns:
        dict: ``loaded`` (module keys), ``unexpected`` (checkpoint keys not
        loaded), ``missing`` (module keys left as initialised).

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: No checkpoint tensor matches ``module`` by name and shape
            (e.g. an official Ego-Exo4D hand checkpoint not converted with
            ``tools/model_converters/potter_to_hp3d.py``).
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'POTTER pretrained checkpoint {checkpoint!r} not found. Download '
            f'the official PoolAttnFormer ImageNet weights (poolattnformer_s12 '
            f'/ s24, links in the README of github.com/zczcwh/POTTER) or an '
            f'Ego-Exo4D POTTER hand checkpoint, convert hand checkpoints with '
            f'tools/model_converters/potter_to_hp3d.py, and set init_cfg.'
            f'checkpoint to the local file.')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    source = _unwrap_state_dict(ckpt, prefix)
    own = module.state_dict()
    matched, unexpected = {}, []
    for key, value in source.items():
        target = next((t + key for t in target_prefixes
                       if t + key in own and own[t + key].shape == value.shape),
                      None)
        if target is None or target in matched:
            unexpected.append(key)
        else:
            matched[target] = value
    if not matched:
        examples = ', '.join(repr(k) for k in list(source)[:3])
        raise ValueError(
            f'POTTER pretrained checkpoint {checkpoint!r}: none of its '
            f'{len(source)} tensors (keys such as {examples}) matches '
            f'{type(module).__name__} by name and shape, so training would '
            f'start from random weights. An official Ego-Exo4D POTTER hand '
            f'checkpoint (PoolAttnHR_Pose_3D, poolattnformer_pose.* keys) '
            f'loads after `python tools/model_converters/potter_to_hp3d.py '
            f'SRC DST` (a bare official PoolAttnFormer_hr state dict too, '
            f'its keys prefixed with poolattnformer_pose.); official ImageNet '
            f'classification and hp3d checkpoints load as they are.')
    missing = [key for key in own if key not in matched]
    module.load_state_dict(matched, strict=False)

    logger = MMLogger.get_current_instance()
    logger.info(f'{type(module).__name__}: loaded {len(matched)} of '
                f'{len(source)} tensors from {checkpoint}')
    if unexpected:
        logger.info(f'{len(unexpected)} checkpoint tensors not loaded '
                    f'(name or shape mismatch): {unexpected}')
    if missing:
        logger.info(f'{len(missing)} model tensors not in the checkpoint '
                    f'(kept as initialised): {missing}')
    return dict(loaded=list(matched), unexpected=unexpected, missing=missing)


__all__ = [
    'PoolAttnFormer', 'PoolAttnFormerHR', 'PoolAttn', 'PoolAttnBlock',
    'PatchSplit', 'HRStream', 'official_to_hp3d', 'hp3d_to_official',
    'load_matching_weights', 'adaptive_pool_matrix'
]
