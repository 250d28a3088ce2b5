"""PoseTransformer: the lifting network of the seed project, each joint a token.

Note:
    B: batch size, K: joints (21), C: embedding dims, H: attention heads,
    D: dims per head (C / H).

Reads top to bottom: batch-last helpers, attention, MLP, block, then the
network.

Four implementations compute the same function from the same state dict
(``impl``):

- ``'fused'`` (default): tokens as (B, K, C), attention by
  ``F.scaled_dot_product_attention`` (flash kernels on GPU).
- ``'batch_last'``: the whole network on (C, K, B) tensors, the batch the
  contiguous axis. Every linear layer is one GEMM over K*B columns, and the
  attention scores (H, K, K, B), their softmax and the layer norms are loops
  over whole vectors of hands; with head dims of 4 and 21 tokens no other
  axis fills a SIMD register. Eagerly the broadcast products are slow; it is
  the form for ``torch.compile`` on CPU, where inductor turns each attention
  into a few vectorised loops (docs/benchmarks_lifting.md).
- ``'cpu_kernel'``: ``'batch_last'`` with the attention (scores, softmax,
  weighted values and their backward) in one C++ kernel compiled on first
  use (:func:`hp3d.models.ops.joint_attention`) for CPU float32 tensors;
  other devices and dtypes run the ``'batch_last'`` formula.
- ``'reference'``: (B, K, C), the softmax spelled out with ``bmm`` over B*H
  heads; the baseline that tests and benchmarks compare against.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from hp3d.models.ops.joint_attention import joint_attention, kernel, kernel_supports
from hp3d.registry import MODELS
from hp3d.utils import OptMultiConfig

# How invalid input joints are kept out of the result.
INVALID_JOINT_MODES = ('mask', 'scale', 'none')
IMPLS = ('fused', 'batch_last', 'cpu_kernel', 'reference')
BATCH_LAST_IMPLS = ('batch_last', 'cpu_kernel')


def portable_impl(impl: str) -> str:
    """The implementation to run ``impl``'s weights with outside CPU
    training graphs (GPUs, ONNX): the batch-last layouts become ``'fused'``
    (the same function and state dict), others stay."""
    return 'fused' if impl in BATCH_LAST_IMPLS else impl


def linear_batch_last(x: Tensor, layer: nn.Linear) -> Tensor:
    """``layer`` applied to (C_in, K, B) ``x`` as one GEMM: (C_out, K, B)."""
    channels, K, B = x.shape
    out = torch.addmm(layer.bias[:, None], layer.weight,
                      x.reshape(channels, K * B))
    return out.view(-1, K, B)


def layer_norm_batch_last(x: Tensor, norm: nn.LayerNorm) -> Tensor:
    """``norm`` over the channels of (C, K, B) ``x`` (biased variance, as
    ``nn.LayerNorm``)."""
    centred = x - x.mean(0, keepdim=True)
    var = centred.square().mean(0, keepdim=True)
    scale = torch.rsqrt(var + norm.eps) * norm.weight[:, None, None]
    return centred * scale + norm.bias[:, None, None]


class JointAttention(nn.Module):
    """Multi-head self-attention over joint tokens.

    Args:
        dim (int): Token dims C.
        num_heads (int): Attention heads H; must divide ``dim``.
        impl (str): One of ``IMPLS`` (see the module docstring).
    """

    def __init__(self, dim: int, num_heads: int, impl: str = 'fused') -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        if impl not in IMPLS:
            raise ValueError(f'impl must be one of {IMPLS}, got {impl!r}')
        self.num_heads = num_heads
        self.impl = impl
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, weight: Optional[Tensor] = None,
                attn_mask: Optional[Tensor] = None) -> Tensor:
        """Attend over the joints of each hand.

        Args:
            x (Tensor): (B, K, C) tokens; (C, K, B) for the batch-last
                impls.
            weight (Tensor, optional): Per-joint factor applied to q, k and v
                (the seed's handling of invalid joints): (B, K); (K, B)
                batch-last.
            attn_mask (Tensor, optional): Which keys each hand may attend:
                (B, 1, 1, K) bool, True = may attend; batch-last a (K, B)
                float added to the scores (0 or -inf).

        Returns:
            Tensor: Same layout as ``x``.
        """
        if self.impl in BATCH_LAST_IMPLS:
            return self._forward_batch_last(x, weight, attn_mask)
        B, K, C = x.shape
        qkv = self.qkv(x)
        if weight is not None:
            qkv = qkv * weight.unsqueeze(-1)
        q, k, v = qkv.view(B, K, 3, self.num_heads, C // self.num_heads) \
            .permute(2, 0, 3, 1, 4).unbind(0)
        if self.impl == 'fused':
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        else:
            attn = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            if attn_mask is not None:
                attn = attn.masked_fill(~attn_mask, float('-inf'))
            out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(B, K, C))

    def _forward_batch_last(self, x: Tensor, weight: Optional[Tensor],
                            key_bias: Optional[Tensor]) -> Tensor:
        C, K, B = x.shape
        H = self.num_heads
        D = C // H
        qkv = linear_batch_last(x, self.qkv)
        if weight is not None:
            qkv = qkv * weight
        if self.impl == 'cpu_kernel' and kernel_supports(qkv):
            out = joint_attention(qkv, key_bias, H)
            return linear_batch_last(out, self.proj)
        q, k, v = qkv.view(3, H, D, K, B).unbind(0)
        # scores (H, K_query, K_key, B): products summed over the D head dims
        attn = (q.unsqueeze(3) * k.unsqueeze(2)).sum(1) * D**-0.5
        if key_bias is not None:
            attn = attn + key_bias
        out = (attn.softmax(2).unsqueeze(1) * v.unsqueeze(2)).sum(3)
        return linear_batch_last(out.reshape(C, K, B), self.proj)


class Mlp(nn.Sequential):
    """Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__(nn.Linear(dim, hidden_dim), nn.GELU(),
                         nn.Linear(hidden_dim, dim))

    def forward_batch_last(self, x: Tensor) -> Tensor:
        """(C, K, B) -> (C, K, B)."""
        return linear_batch_last(self[1](linear_batch_last(x, self[0])),
                                 self[2])


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 impl: str = 'fused') -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = JointAttention(dim, num_heads, impl)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, weight: Optional[Tensor] = None,
                attn_mask: Optional[Tensor] = None) -> Tensor:
        """(B, K, C) -> (B, K, C), or (C, K, B) batch-last (arguments as
        :meth:`JointAttention.forward`)."""
        if self.attn.impl in BATCH_LAST_IMPLS:
            x = x + self.attn(layer_norm_batch_last(x, self.norm1), weight,
                              attn_mask)
            return x + self.mlp.forward_batch_last(
                layer_norm_batch_last(x, self.norm2))
        x = x + self.attn(self.norm1(x), weight, attn_mask)
        return x + self.mlp(self.norm2(x))


@MODELS.register_module()
class PoseTransformer(BaseModule):
    """Joint-token Transformer encoder for 2D -> 3D lifting.

    Each of the K joints is a token: ``Linear(2 -> C)`` embedding of its 2D
    position plus a learned per-joint position embedding, then ``depth``
    pre-norm Transformer blocks and a final LayerNorm. A regression head
    (``JointRegressionHead``) maps the tokens to 3D.

    Args:
        num_joints (int): K. Defaults to 21.
        in_channels (int): Input dims per joint. Defaults to 2.
        embed_dim (int): C. Defaults to 32 (the seed's).
        depth (int): Number of blocks. Defaults to 4.
        num_heads (int): Attention heads. Defaults to 8.
        mlp_ratio (float): MLP hidden dims / C. Defaults to 2.
        invalid_joints (str): How invalid input joints are handled:
            ``'mask'`` excludes them as attention keys (key-padding mask),
            ``'scale'`` multiplies their q/k/v by the joint weight (the seed's
            rule), ``'none'`` ignores validity. Defaults to ``'mask'``.
        impl (str): ``'fused'``, ``'batch_last'`` (for ``torch.compile`` on
            CPU), ``'cpu_kernel'`` (the same with the attention in a C++
            kernel; a C++ compiler is needed) or ``'reference'``; see the
            module docstring. Defaults to ``'fused'``.
        init_cfg (dict | list, optional): mmengine init config.
    """

    def __init__(self, num_joints: int = 21, in_channels: int = 2,
                 embed_dim: int = 32, depth: int = 4, num_heads: int = 8,
                 mlp_ratio: float = 2.0, invalid_joints: str = 'mask',
                 impl: str = 'fused',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if invalid_joints not in INVALID_JOINT_MODES:
            raise ValueError(f'invalid_joints must be one of '
                             f'{INVALID_JOINT_MODES}, got {invalid_joints!r}')
        if impl not in IMPLS:
            raise ValueError(f'impl must be one of {IMPLS}, got {impl!r}')
        if impl == 'cpu_kernel':
            kernel()  # a missing compiler fails here, not mid-run
        self.invalid_joints = invalid_joints
        self.impl = impl
        self.joint_embed = nn.Linear(in_channels, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, impl)
            for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, keypoints_2d: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Embed each joint as a token and run the blocks.

        Args:
            keypoints_2d (Tensor): (B, K, 2) normalised 2D keypoints.
            weight (Tensor, optional): (B, K) joint validity, 1 valid, 0 not.

        Returns:
            Tensor: (B, K, C) joint tokens (a permuted view for the
            batch-last impls).
        """
        if self.impl in BATCH_LAST_IMPLS:
            return self._forward_batch_last(keypoints_2d, weight)
        x = self.joint_embed(keypoints_2d) + self.pos_embed
        qkv_weight = attn_mask = None
        if weight is not None and self.invalid_joints == 'scale':
            qkv_weight = weight.to(x.dtype)
        elif weight is not None and self.invalid_joints == 'mask':
            attn_mask = self._valid_keys(weight)[:, None, None, :]
        for block in self.blocks:
            x = block(x, qkv_weight, attn_mask)
        return self.norm(x)

    def _forward_batch_last(self, keypoints_2d: Tensor,
                            weight: Optional[Tensor]) -> Tensor:
        x = linear_batch_last(keypoints_2d.permute(2, 1, 0), self.joint_embed)
        x = x + self.pos_embed[0].t().unsqueeze(-1)
        qkv_weight = key_bias = None
        if weight is not None and self.invalid_joints == 'scale':
            qkv_weight = weight.t().to(x.dtype)
        elif weight is not None and self.invalid_joints == 'mask':
            valid = self._valid_keys(weight).t()
            # added to the scores, not masked_fill: masked_fill's backward
            # read the transposed (B, K) mask element by element again, and
            # its train step took 1.7x as long under inductor
            key_bias = x.new_zeros(valid.shape).masked_fill(
                ~valid, float('-inf'))
        for block in self.blocks:
            x = block(x, qkv_weight, key_bias)
        return layer_norm_batch_last(x, self.norm).permute(2, 1, 0)

    @staticmethod
    def _valid_keys(weight: Tensor) -> Tensor:
        """(B, K) bool: the joints a hand's tokens may attend to."""
        valid = weight > 0
        # a hand without any valid joint attends everywhere (no NaN rows)
        return valid | ~valid.any(dim=1, keepdim=True)


__all__ = ['PoseTransformer', 'portable_impl']
