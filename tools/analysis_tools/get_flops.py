"""Parameters and multiply-accumulates (MACs) of a hp3d model config.

Counts with mmengine's ``FlopAnalyzer`` (fvcore), which counts one fused
multiply-add as one "flop": the numbers are MACs; FLOPs are about twice as
many. Fused attention (``F.scaled_dot_product_attention``), which the
analyzer does not know, is counted as its two matrix products, and
``baddbmm`` as its batched product. The model runs
its ``mode='tensor'`` forward (backbone and head, no data preprocessor) on one
random input.

Input shape, unless ``--shape`` gives it (batch included):

- an image model (its backbone holds a ``Conv2d``, e.g. POTTER's patch
  embedding) gets (1, 3, H, W) with ``(W, H) = input_size``, the first found
  of the config's top-level ``input_size``, ``codec.input_size`` and an
  ``input_size`` in the test (else val) pipeline, mmpose-style;
- any other model lifts keypoints: (1, K, 2) with ``K =
  model.backbone.num_joints`` (default 21).

Examples::

    python tools/analysis_tools/get_flops.py \\
        configs/lifting/lifting_pose-transformer-d32l4_1xb64-30e_egoexo4d-gt2d.py
    python tools/analysis_tools/get_flops.py CONFIG --shape 1 3 256 256 \\
        --per-module
"""
import argparse
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.analysis.print_helper import complexity_stats_table
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from torch import nn

from hp3d.datasets.metainfo import NUM_JOINTS
from hp3d.registry import MODELS

SDPA_OP = 'aten::scaled_dot_product_attention'
# Batched matrix product plus a bias (POTTER's fast path runs its 1x1 convs
# and pooled token mixing as one), which fvcore has no rule for.
BADDBMM_OP = 'aten::baddbmm'


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of fused attention: ``q @ k^T`` then ``attn @ v``.

    Args:
        inputs (list): traced inputs; ``q`` (..., Lq, D), ``k`` (..., Lk, D),
            ``v`` (..., Lk, Dv) first.
        outputs (list): traced outputs (unused).

    Returns:
        int: ``prod(...) * Lq * Lk * (D + Dv)``.
    """
    q, k, v = (get_shape(x) for x in inputs[:3])
    *batch, len_q, dim = q
    len_k, dim_v = k[-2], v[-1]
    macs = len_q * len_k * (dim + dim_v)
    for size in batch:
        macs *= size
    return macs


def baddbmm_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of ``baddbmm(bias, a, b)``: ``a`` (B, N, K) @ ``b`` (B, K, M).

    Args:
        inputs (list): traced inputs: bias, ``a``, ``b`` (then beta, alpha).
        outputs (list): traced outputs (unused).

    Returns:
        int: ``B * N * K * M`` (the bias adds are not counted, as for
        ``addmm``).
    """
    batch, rows, inner = get_shape(inputs[1])
    cols = get_shape(inputs[2])[-1]
    return batch * rows * inner * cols


def model_complexity(model: nn.Module, inputs: torch.Tensor,
                     per_module: bool = False,
                     max_depth: int = 3) -> Dict[str, Any]:
    """Parameters and MACs of ``model(inputs)``.

    Args:
        model (nn.Module): the model, in eval mode or not (set to eval here).
        inputs (Tensor): one batch of inputs, batch size included.
        per_module (bool): also return a per-module table.
        max_depth (int): module depth of the table.

    Returns:
        dict: ``params`` (int), ``macs`` (int), ``unsupported_ops`` (dict:
        op name -> calls not counted) and ``table`` (str, empty unless
        ``per_module``).
    """
    model.eval()
    flops = FlopAnalyzer(model, (inputs, ))
    flops.set_op_handle(SDPA_OP, sdpa_flop_jit)
    flops.set_op_handle(BADDBMM_OP, baddbmm_flop_jit)
    # Reported once below, not as one warning per op.
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    with torch.no_grad():
        macs = flops.total()
        table = complexity_stats_table(
            flops, max_depth=max_depth) if per_module else ''
    return dict(params=parameter_count(model)[''], macs=macs,
                unsupported_ops=dict(flops.unsupported_ops()), table=table)


def _find_key(node, key: str):
    """The first value of ``key`` in a nested dict/list, depth-first."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = _find_key(child, key)
        if found is not None:
            return found
    return None


def image_input_size(cfg: Config) -> Optional[Tuple[int, int]]:
    """``(W, H)`` of the model input named in the config, if any."""
    candidates = [cfg.get('input_size'), cfg.get('codec', {}).get('input_size')]
    for split in ('test_dataloader', 'val_dataloader'):
        dataset = cfg.get(split, {}).get('dataset', {})
        candidates.append(_find_key(dataset.get('pipeline', []), 'input_size'))
    for size in candidates:
        if size is not None:
            width, height = (size, size) if isinstance(size, int) else size
            return int(width), int(height)
    return None


def is_image_model(model: nn.Module) -> bool:
    """An image model convolves pixels somewhere in its backbone."""
    backbone = getattr(model, 'backbone', model)
    return any(isinstance(m, nn.Conv2d) for m in backbone.modules())


def input_shape(cfg: Config, model: nn.Module) -> Tuple[int, ...]:
    """The input shape of the rule in this module's docstring."""
    if is_image_model(model):
        size = image_input_size(cfg)
        if size is None:
            raise ValueError(
                f'{cfg.filename}: an image model, but no input_size in the '
                'config (top level, codec or test/val pipeline): pass '
                '--shape 1 3 H W')
        return 1, 3, size[1], size[0]
    num_joints = cfg.model.get('backbone', {}).get('num_joints', NUM_JOINTS)
    return 1, int(num_joints), 2


def format_count(value: float) -> str:
    for unit, scale in (('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if abs(value) >= scale:
            return f'{value / scale:.3f} {unit}'
    return f'{value:g}'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Parameters and MACs of a hp3d model config')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape', type=int, nargs='+',
        help='input shape with the batch, e.g. 1 3 224 224 or 1 21 2 '
        '(default: from the config, see this tool\'s docstring)')
    parser.add_argument('--per-module', action='store_true',
                        help='print a per-module table')
    parser.add_argument('--max-depth', type=int, default=3,
                        help='module depth of the per-module table')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.backbone.depth=2')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'hp3d'))
    model = MODELS.build(cfg.model)
    shape = tuple(args.shape) if args.shape else input_shape(cfg, model)
    inputs = torch.randn(shape)
    result = model_complexity(model, inputs, args.per_module, args.max_depth)
    if args.per_module:
        print(result['table'])
    line = '=' * 60
    print(f'{line}\nConfig: {args.config}\nInput shape: {shape}\n'
          f'Params: {format_count(result["params"])} ({result["params"]:,})\n'
          f'MACs: {format_count(result["macs"])} ({result["macs"]:,}); '
          f'FLOPs ~ 2 x MACs\n{line}')
    if result['unsupported_ops']:
        skipped = sorted(result['unsupported_ops'].items())
        print('Not counted (no FLOP rule: element-wise, pooling, norms): '
              + ', '.join(f'{op} x{n}' for op, n in skipped))
    return result


if __name__ == '__main__':
    main()
