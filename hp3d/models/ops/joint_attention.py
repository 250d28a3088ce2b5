"""Multi-head attention over joint tokens in one C++ CPU kernel (float32).

Note:
    H: heads, D: dims per head, K: joints, B: batch size; tensors are
    batch-last, the layout of ``PoseTransformer(impl='batch_last')``.

With 21 tokens and heads of 4 dims, attention is hundreds of tiny
reductions; PyTorch (eager or inductor) makes separate passes over the
(H, K, K, B) scores for the products, the softmax's max, exponentials, sum
and normalisation, and recomputes the exponentials in the backward. The
kernel (``csrc/joint_attention.cpp``) computes a query's 21 scores for 16
hands at a time in vector registers, in one pass; the backward recomputes
them from each row's max and normaliser (docs/benchmarks_lifting.md).

:func:`joint_attention` is a ``torch.library`` custom op with autograd and
a fake (meta) implementation, so ``torch.compile`` keeps it as one opaque
call inside its graph.
"""
import ctypes
from functools import lru_cache
from typing import Callable, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .cpp_build import load_library

__all__ = ['joint_attention', 'kernel', 'kernel_supports']

_c_ptr = ctypes.c_void_p
_SIZES = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int64,
          ctypes.c_float, ctypes.c_int]  # H, D, K, B, scale, threads


class Kernel(NamedTuple):
    """The built kernel's entry points and limits."""
    forward: Callable
    backward: Callable
    group: int  # hands per vector; B is padded to a multiple
    max_joints: int
    max_head_dims: int


@lru_cache(maxsize=None)
def kernel() -> Kernel:
    """The compiled kernel, built on first use (:mod:`.cpp_build`); cached,
    as its Python-side cost counts at every call."""
    lib = load_library('joint_attention')
    forward, backward = (lib.hp3d_joint_attention_forward,
                         lib.hp3d_joint_attention_backward)
    forward.argtypes = [_c_ptr] * 5 + _SIZES
    backward.argtypes = [_c_ptr] * 6 + _SIZES
    forward.restype = backward.restype = None
    return Kernel(forward, backward, lib.hp3d_joint_attention_group(),
                  lib.hp3d_joint_attention_max_joints(),
                  lib.hp3d_joint_attention_max_head_dims())


def kernel_supports(x: Tensor) -> bool:
    """Whether :func:`joint_attention` takes ``x``: CPU float32."""
    return x.device.type == 'cpu' and x.dtype == torch.float32


def _padded(x: Optional[Tensor], batch: int) -> Optional[Tensor]:
    """``x`` (..., B) contiguous and zero-padded to (..., batch)."""
    if x is None:
        return None
    x = x.contiguous()
    if x.shape[-1] == batch:
        return x
    return torch.nn.functional.pad(x, (0, batch - x.shape[-1]))


def _ptr(x: Optional[Tensor]) -> Optional[int]:
    return None if x is None else x.data_ptr()


def _check(qkv: Tensor, key_bias: Optional[Tensor], num_heads: int,
           limits: Kernel) -> None:
    if qkv.device.type != 'cpu' or qkv.dtype != torch.float32:
        raise ValueError(f'joint_attention runs on CPU float32 tensors, got '
                         f'{qkv.dtype} on {qkv.device}')
    if qkv.dim() != 3 or qkv.shape[0] % (3 * num_heads):
        raise ValueError(f'qkv must be (3 * H * D, K, B) with H={num_heads}, '
                         f'got {tuple(qkv.shape)}')
    dims = qkv.shape[0] // (3 * num_heads)
    if qkv.shape[1] > limits.max_joints or dims > limits.max_head_dims:
        raise ValueError(f'joint_attention supports up to '
                         f'{limits.max_joints} tokens and '
                         f'{limits.max_head_dims} dims per head, got '
                         f'{qkv.shape[1]} and {dims}')
    if key_bias is not None and (key_bias.shape != qkv.shape[1:]
                                 or key_bias.dtype != torch.float32):
        raise ValueError(f'key_bias must be float32 {tuple(qkv.shape[1:])} '
                         f'(K, B), got {key_bias.dtype} '
                         f'{tuple(key_bias.shape)}')


@torch.library.custom_op('hp3d::joint_attention_fwd', mutates_args=())
def _forward(qkv: Tensor, key_bias: Optional[Tensor],
             num_heads: int) -> Tuple[Tensor, Tensor, Tensor]:
    k = kernel()
    _check(qkv, key_bias, num_heads, k)
    channels, K, B = qkv.shape
    H, D = num_heads, channels // (3 * num_heads)
    Bp = -(-B // k.group) * k.group
    out = qkv.new_empty(H * D, K, Bp)
    row_max, row_inv = qkv.new_empty(H, K, Bp), qkv.new_empty(H, K, Bp)
    # padded copies bound to names: they must outlive the kernel call
    qkv_p, bias_p = _padded(qkv, Bp), _padded(key_bias, Bp)
    k.forward(_ptr(qkv_p), _ptr(bias_p), _ptr(out), _ptr(row_max),
              _ptr(row_inv), H, D, K, Bp, D**-0.5, torch.get_num_threads())
    if Bp != B:
        return tuple(x[..., :B].contiguous() for x in (out, row_max, row_inv))
    return out, row_max, row_inv


@_forward.register_fake
def _(qkv: Tensor, key_bias: Optional[Tensor],
      num_heads: int) -> Tuple[Tensor, Tensor, Tensor]:
    channels, K, B = qkv.shape
    return (qkv.new_empty(channels // 3, K, B),
            qkv.new_empty(num_heads, K, B), qkv.new_empty(num_heads, K, B))


@torch.library.custom_op('hp3d::joint_attention_bwd', mutates_args=())
def _backward(qkv: Tensor, key_bias: Optional[Tensor], row_max: Tensor,
              row_inv: Tensor, grad_out: Tensor, num_heads: int) -> Tensor:
    k = kernel()
    channels, K, B = qkv.shape
    H, D = num_heads, channels // (3 * num_heads)
    Bp = -(-B // k.group) * k.group
    grad_qkv = qkv.new_empty(channels, K, Bp)
    inputs = [_padded(x, Bp)
              for x in (qkv, key_bias, row_max, row_inv, grad_out)]
    k.backward(*map(_ptr, inputs), _ptr(grad_qkv), H, D, K, Bp, D**-0.5,
               torch.get_num_threads())
    return grad_qkv[..., :B].contiguous() if Bp != B else grad_qkv


@_backward.register_fake
def _(qkv: Tensor, key_bias: Optional[Tensor], row_max: Tensor,
      row_inv: Tensor, grad_out: Tensor, num_heads: int) -> Tensor:
    return torch.empty_like(qkv)


def _setup_context(ctx, inputs, output) -> None:
    qkv, key_bias, num_heads = inputs
    ctx.save_for_backward(qkv, key_bias, output[1], output[2])
    ctx.num_heads = num_heads


def _grad(ctx, grad_out: Tensor, *stat_grads):
    # the softmax statistics never leave joint_attention(), so no gradient
    # reaches them; the key bias is a constant mask (no gradient)
    qkv, key_bias, row_max, row_inv = ctx.saved_tensors
    grad_qkv = _backward(qkv, key_bias, row_max, row_inv, grad_out,
                         ctx.num_heads)
    return grad_qkv, None, None


_forward.register_autograd(_grad, setup_context=_setup_context)


def joint_attention(qkv: Tensor, key_bias: Optional[Tensor],
                    num_heads: int) -> Tensor:
    """Softmax attention of every hand's joints over its joints.

    Args:
        qkv (Tensor): (3 * H * D, K, B) float32 queries, keys and values
            (the qkv projection in batch-last layout).
        key_bias (Tensor, optional): (K, B) float32 added to every score
            of a key: 0, or -inf for a key the hand must not attend to
            (every hand must keep one key, or its output is NaN, as with
            ``softmax``).
        num_heads (int): H.

    Returns:
        Tensor: (H * D, K, B), ``softmax(q k^T / sqrt(D) + bias) v`` per
        head and hand, heads stacked along the channels.
    """
    return _forward(qkv, key_bias, num_heads)[0]
