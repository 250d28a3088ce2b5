"""PoseTransformer: the lifting network of the seed project, each joint a token.

Note:
    B: batch size, K: joints (21), C: embedding dims.

Reads top to bottom: attention, MLP, block, then the network and its variants.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from hp3d.registry import MODELS
from hp3d.utils import OptMultiConfig

# How invalid input joints are kept out of the result.
INVALID_JOINT_MODES = ('mask', 'scale', 'none')
ATTN_IMPLS = ('fused', 'broadcast', 'reference')


class JointAttention(nn.Module):
    """Multi-head self-attention over joint tokens.

    Args:
        dim (int): Token dims C.
        num_heads (int): Attention heads; must divide ``dim``.
        impl (str): How the same math is computed (one state dict for all):

            - ``'fused'``: ``F.scaled_dot_product_attention`` (flash kernels
              on GPU).
            - ``'broadcast'``: scores and outputs as broadcast products and
              sums with the heads as the innermost axis (the qkv/proj weights
              are permuted on the fly). Eagerly it is slow; under
              ``torch.compile`` it becomes a few vectorised loops, which on
              CPU beat batched GEMMs of B*H tiny (K, D/H) heads by ~2x.
            - ``'reference'``: the softmax spelled out with ``bmm``; the
              baseline that tests and benchmarks compare against.
    """

    def __init__(self, dim: int, num_heads: int, impl: str = 'fused') -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        if impl not in ATTN_IMPLS:
            raise ValueError(f'impl must be one of {ATTN_IMPLS}, got {impl!r}')
        self.num_heads = num_heads
        self.impl = impl
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, weight: Optional[Tensor] = None,
                attn_mask: Optional[Tensor] = None) -> Tensor:
        """Args:
            x (Tensor): (B, K, C) tokens.
            weight (Tensor, optional): (B, K) per-joint factor applied to q, k
                and v (the seed's handling of invalid joints).
            attn_mask (Tensor, optional): (B, 1, 1, K) bool, True = may attend.

        Returns:
            Tensor: (B, K, C).
        """
        B, K, C = x.shape
        if self.impl == 'broadcast':
            return self._broadcast_forward(x, weight, attn_mask)
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

    def _broadcast_forward(self, x: Tensor, weight: Optional[Tensor],
                           attn_mask: Optional[Tensor]) -> Tensor:
        B, K, C = x.shape
        H, D = self.num_heads, C // self.num_heads
        # qkv rows (3, H, D) -> (3, D, H) and proj columns (H, D) -> (D, H):
        # the heads become the contiguous axis the loops vectorise over.
        w_qkv = self.qkv.weight.view(3, H, D, C).transpose(1, 2).reshape(-1, C)
        b_qkv = self.qkv.bias.view(3, H, D).transpose(1, 2).reshape(-1)
        qkv = F.linear(x, w_qkv, b_qkv)
        if weight is not None:
            qkv = qkv * weight.unsqueeze(-1)
        q, k, v = qkv.view(B, K, 3, D, H).unbind(2)  # each (B, K, D, H)
        attn = (q.unsqueeze(2) * k.unsqueeze(1)).sum(3) * D**-0.5
        if attn_mask is not None:  # attn: (B, K_query, K_key, H)
            attn = attn.masked_fill(~attn_mask.view(B, 1, K, 1), float('-inf'))
        out = (attn.softmax(2).unsqueeze(3) * v.unsqueeze(1)).sum(2)
        w_proj = self.proj.weight.view(C, H, D).transpose(1, 2).reshape(C, C)
        return F.linear(out.reshape(B, K, C), w_proj, self.proj.bias)


class Mlp(nn.Sequential):
    """Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__(nn.Linear(dim, hidden_dim), nn.GELU(),
                         nn.Linear(hidden_dim, dim))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 attn_impl: str = 'fused') -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = JointAttention(dim, num_heads, attn_impl)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, weight: Optional[Tensor] = None,
                attn_mask: Optional[Tensor] = None) -> Tensor:
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
        attn_impl (str): ``'fused'``, ``'broadcast'`` (for
            ``torch.compile`` on CPU) or ``'reference'``; see
            :class:`JointAttention`. Defaults to ``'fused'``.
        init_cfg (dict | list, optional): mmengine init config.
    """

    def __init__(self, num_joints: int = 21, in_channels: int = 2,
                 embed_dim: int = 32, depth: int = 4, num_heads: int = 8,
                 mlp_ratio: float = 2.0, invalid_joints: str = 'mask',
                 attn_impl: str = 'fused',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if invalid_joints not in INVALID_JOINT_MODES:
            raise ValueError(f'invalid_joints must be one of '
                             f'{INVALID_JOINT_MODES}, got {invalid_joints!r}')
        self.invalid_joints = invalid_joints
        self.joint_embed = nn.Linear(in_channels, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, attn_impl)
            for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, keypoints_2d: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Args:
            keypoints_2d (Tensor): (B, K, 2) normalised 2D keypoints.
            weight (Tensor, optional): (B, K) joint validity, 1 valid, 0 not.

        Returns:
            Tensor: (B, K, C) joint tokens.
        """
        x = self.joint_embed(keypoints_2d) + self.pos_embed
        qkv_weight = attn_mask = None
        if weight is not None and self.invalid_joints == 'scale':
            qkv_weight = weight.to(x.dtype)
        elif weight is not None and self.invalid_joints == 'mask':
            valid = weight > 0
            # a hand without any valid joint attends everywhere (no NaN rows)
            valid = valid | ~valid.any(dim=1, keepdim=True)
            attn_mask = valid[:, None, None, :]
        for block in self.blocks:
            x = block(x, qkv_weight, attn_mask)
        return self.norm(x)


__all__ = ['PoseTransformer']
