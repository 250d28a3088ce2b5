"""Export an hp3d model's tensor forward to ONNX and check it with onnxruntime.

The graph is the estimator's ``mode='tensor'`` path (backbone + head, no
codec decoding) with a dynamic batch axis:

- ``ImagePoseEstimator`` (POTTER): input ``inputs`` (B, 3, H, W) float32,
  BGR, 0-255 (the uint8 crops of the test pipeline as float). The data
  preprocessor (BGR -> RGB, ImageNet mean/std) is folded into the graph.
- ``PoseLifter``: inputs ``inputs`` (B, K, 2) float32, the lifting codec's
  normalised 2D, and ``input_weight`` (B, K) float32, 1 for valid joints and
  0 for joints the model must mask (both from ``LiftingCodec.encode``).

Output ``pred`` (B, K, 3) is in the head codec's normalised space:
``codec.decode`` gives wrist-relative mm (for mirrored left hands, negate
y back: ``MIRROR_AXIS``). See docs/inference.md.

Example:
    python tools/deployment/export_onnx.py configs/potter_egoexo.py \
        work_dirs/potter/best.pth --out potter.onnx --check
"""
import argparse
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Type

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor, nn

from hp3d.apis import init_model, portable_config
from hp3d.datasets.metainfo import NUM_JOINTS
from hp3d.models.estimators import ImagePoseEstimator, PoseLifter

DEFAULT_OPSET = 17
DEFAULT_ATOL = 1e-4
CHECK_SEED = 0


class ImageTensorForward(nn.Module):
    """Data preprocessor + ``mode='tensor'`` of an image estimator.

    Args:
        model (nn.Module): An ``ImagePoseEstimator``.
        input_size (tuple[int, int]): (W, H) of the crops.
    """
    input_names = ('inputs', )

    def __init__(self, model: nn.Module, input_size: Tuple[int, int]) -> None:
        super().__init__()
        self.model = model
        self.input_size = tuple(input_size)

    def forward(self, inputs: Tensor) -> Tensor:
        """(B, 3, H, W) BGR 0-255 -> (B, K, 3) normalised predictions."""
        data = self.model.data_preprocessor(dict(inputs=inputs), False)
        return self.model(data['inputs'], None, mode='tensor')

    def example_inputs(self, batch_size: int,
                       generator: torch.Generator) -> Tuple[Tensor, ...]:
        """Random crops, integer grey levels as the pipeline makes them."""
        w, h = self.input_size
        return (torch.randint(0, 256, (batch_size, 3, h, w),
                              generator=generator).float(), )


class LiftingTensorForward(nn.Module):
    """Data preprocessor + ``mode='tensor'`` of a lifting estimator.

    Args:
        model (nn.Module): A ``PoseLifter``.
        num_joints (int): K.
    """
    input_names = ('inputs', 'input_weight')

    def __init__(self, model: nn.Module, num_joints: int = NUM_JOINTS) -> None:
        super().__init__()
        self.model = model
        self.num_joints = num_joints

    def forward(self, inputs: Tensor, input_weight: Tensor) -> Tensor:
        """(B, K, 2) normalised 2D, (B, K) validity -> (B, K, 3)."""
        data = self.model.data_preprocessor(
            dict(inputs=inputs, data_samples=dict(input_weight=input_weight)),
            False)
        return self.model(data['inputs'], data['data_samples'], mode='tensor')

    def example_inputs(self, batch_size: int,
                       generator: torch.Generator) -> Tuple[Tensor, ...]:
        """Normal 2D with about a quarter of the joints invalid (0); in a
        batch of several, the last hand has no valid joint (the masking's
        edge case)."""
        shape = (batch_size, self.num_joints)
        weight = (torch.rand(shape, generator=generator) > 0.25).float()
        if batch_size > 1:
            weight[-1] = 0.0
        inputs = torch.randn(shape + (2, ), generator=generator)
        return inputs * weight[..., None], weight


# Estimator class -> its exported forward (a subclass uses its parent's).
TENSOR_FORWARDS: Dict[type, Type[nn.Module]] = {
    PoseLifter: LiftingTensorForward,
    ImagePoseEstimator: ImageTensorForward,
}


def _config_input_size(cfg: Config) -> Tuple[int, int]:
    """(W, H) of the test pipeline's ``TopdownAffine``."""
    loader = cfg.get('test_dataloader', {})
    for step in loader.get('dataset', {}).get('pipeline', []):
        if step['type'] == 'TopdownAffine' and 'input_size' in step:
            return tuple(step['input_size'])
    raise ValueError(f'{cfg.filename}: no TopdownAffine input_size in the '
                     'test pipeline; pass --input-size W H')


def build_tensor_forward(model: nn.Module, cfg: Config,
                         input_size: Optional[Sequence[int]] = None
                         ) -> nn.Module:
    """The exported module of ``model`` (see :data:`TENSOR_FORWARDS`).

    Args:
        model (nn.Module): The estimator, in eval mode.
        cfg (Config): Its config (for the input size of image models).
        input_size (Sequence[int], optional): (W, H) of image inputs;
            defaults to the test pipeline's. Not used by lifting models.

    Returns:
        nn.Module: ``ImageTensorForward`` or ``LiftingTensorForward``.
    """
    for estimator, forward_cls in TENSOR_FORWARDS.items():
        if isinstance(model, estimator):
            break
    else:
        raise TypeError(f'No ONNX export for {type(model).__name__}; known: '
                        f'{[e.__name__ for e in TENSOR_FORWARDS]}')
    if forward_cls is LiftingTensorForward:
        if input_size is not None:
            raise ValueError('--input-size is for image models; a lifting '
                             f'model takes ({NUM_JOINTS}, 2) keypoints')
        return LiftingTensorForward(model).eval()
    size = (tuple(input_size) if input_size is not None else
            _config_input_size(cfg))
    return ImageTensorForward(model, size).eval()


def export(module: nn.Module, out_file: str,
           opset: int = DEFAULT_OPSET) -> None:
    """Trace ``module`` to ``out_file`` with a dynamic batch axis.

    Args:
        module (nn.Module): From :func:`build_tensor_forward`.
        out_file (str): The ``.onnx`` file.
        opset (int): ONNX opset. Defaults to 17.
    """
    names = list(module.input_names)
    dynamic_axes = {name: {0: 'batch'} for name in names + ['pred']}
    example = module.example_inputs(2, torch.Generator().manual_seed(CHECK_SEED))
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns on every Python int taken from a shape; the input
        # sides are static by design, only the batch axis is dynamic.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        # The TorchScript exporter: the dynamo one needs onnxscript.
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(module, example, out_file, dynamo=False,
                          opset_version=opset, input_names=names,
                          output_names=['pred'], dynamic_axes=dynamic_axes)


def check(module: nn.Module, onnx_file: str,
          batch_sizes: Sequence[int] = (1, 3)) -> List[float]:
    """Max abs difference between onnxruntime and PyTorch per batch size.

    Args:
        module (nn.Module): The exported module.
        onnx_file (str): Its ``.onnx`` file.
        batch_sizes (Sequence[int]): Batches run through the same file.

    Returns:
        list[float]: One max abs difference per batch size.
    """
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(onnx_file))
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    generator = torch.Generator().manual_seed(CHECK_SEED)
    diffs = []
    for batch_size in batch_sizes:
        inputs = module.example_inputs(batch_size, generator)
        with torch.no_grad():
            expected = module(*inputs).numpy()
        got, = session.run(None, {
            name: x.numpy() for name, x in zip(module.input_names, inputs)
        })
        if got.shape != expected.shape:
            raise AssertionError(f'batch {batch_size}: onnxruntime output '
                                 f'{got.shape}, PyTorch {expected.shape}')
        diffs.append(float(np.abs(got - expected).max()))
    return diffs


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export an hp3d model to ONNX (dynamic batch axis)')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'),
                        help='image input size; defaults to the test '
                        "pipeline's TopdownAffine input_size")
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument('--check', action='store_true',
                        help='compare onnxruntime with PyTorch on random '
                        'inputs; exit 1 beyond --atol')
    parser.add_argument('--check-batch-sizes', type=int, nargs='+',
                        default=[1, 3])
    parser.add_argument('--atol', type=float, default=DEFAULT_ATOL,
                        help='largest allowed max abs difference')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    trained_cfg = Config.fromfile(args.config)
    # the same function and state dict in standard attention ops
    cfg = portable_config(trained_cfg)
    if cfg is not trained_cfg:
        print(f'Exporting the backbone with impl='
              f'{cfg.model.backbone.impl!r} (the config trains with '
              f'{trained_cfg.model.backbone.impl!r}; same weights)')
    model = init_model(cfg, args.checkpoint, 'cpu')
    module = build_tensor_forward(model, cfg, args.input_size)
    export(module, args.out, args.opset)
    print(f'Exported {type(model).__name__} ({", ".join(module.input_names)} '
          f'-> pred) to {args.out}')
    if not args.check:
        return 0
    diffs = check(module, args.out, args.check_batch_sizes)
    for batch_size, diff in zip(args.check_batch_sizes, diffs):
        print(f'batch {batch_size}: max abs diff onnxruntime vs PyTorch '
              f'{diff:.3e}')
    if max(diffs) > args.atol:
        print(f'FAILED: max abs diff {max(diffs):.3e} > atol {args.atol:.1e}')
        return 1
    print(f'OK: within atol {args.atol:.1e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
