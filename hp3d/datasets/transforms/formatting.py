"""The last transform: a sample becomes ``dict(inputs, data_samples)``."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from hp3d.registry import TRANSFORMS

from .utils import describe_sample

__all__ = ['REQUIRED_META_KEYS', 'DEFAULT_META_KEYS', 'PackInputs']

# What every sample's data_samples carries (docs/design.md section 2).
REQUIRED_META_KEYS = ('sample_idx', 'take_uid', 'take_name', 'frame_number',
                      'hand', 'is_left', 'flipped', 'has_gt', 'keypoints_3d',
                      'keypoints_valid', 'bbox', 'cam_K')
# Added when a step of the pipeline made them: targets, the image crop's
# window and warp, the lifting input weights.
DEFAULT_META_KEYS = REQUIRED_META_KEYS + (
    'target', 'target_weight', 'center', 'scale', 'warp_mat',
    'keypoints_2d_crop', 'input_weight')
# Array dtypes in data_samples: float64 is narrowed, others kept.
_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def _to_collatable(key: str, value, results: Dict):
    """Arrays -> tensors (float32 for floats), numpy scalars -> Python."""
    if value is None:
        raise ValueError(f'{describe_sample(results)}: {key} is None; '
                         'default_collate cannot stack None (use NaN arrays)')
    if isinstance(value, np.ndarray):
        if value.dtype in _FLOAT_DTYPES:
            value = value.astype(np.float32, copy=False)
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


@TRANSFORMS.register_module()
class PackInputs(BaseTransform):
    """Pack a sample into ``dict(inputs=Tensor, data_samples=dict)``.

    ``inputs`` is ``results[inputs_key]``: an (h, w, c) image becomes a
    (c, h, w) tensor of the same dtype (uint8 BGR for the image pipelines,
    normalised later on the device by the data preprocessor); any other
    array, e.g. the lifting codec's (K, 2) float32, is kept as it is.

    ``data_samples`` holds the ``REQUIRED_META_KEYS`` (an error names a
    missing one; ``flipped`` is False when no step mirrored the sample)
    and those of ``meta_keys`` that the pipeline produced. Arrays become
    tensors (floats as float32, NaN kept: ``keypoints_valid`` says which
    joints count), strings stay strings, so mmengine's ``default_collate``
    stacks a batch.

    Args:
        inputs_key (str): Key of the model input: ``'img'`` (image
            pipelines) or ``'lifting_inputs'`` (from ``GenerateTarget``).
            Defaults to ``'img'``.
        meta_keys (Sequence[str]): Keys packed when present. Defaults to
            ``DEFAULT_META_KEYS`` (every key of docs/design.md section 2).
    """

    def __init__(self, inputs_key: str = 'img',
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.inputs_key = inputs_key
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Dict:
        if self.inputs_key not in results:
            raise KeyError(f'{describe_sample(results)}: no {self.inputs_key!r}'
                           ' to pack as inputs; is a pipeline step missing?')
        inputs = np.asarray(results[self.inputs_key])
        if inputs.ndim == 3:
            inputs = inputs.transpose(2, 0, 1)
        inputs = torch.from_numpy(np.ascontiguousarray(inputs))

        results.setdefault('flipped', False)
        missing = [k for k in REQUIRED_META_KEYS if k not in results]
        if missing:
            raise KeyError(f'{describe_sample(results)}: missing {missing}, '
                           'which every data sample carries (docs/design.md)')
        keys = dict.fromkeys(REQUIRED_META_KEYS + self.meta_keys)
        data_samples = {
            key: _to_collatable(key, results[key], results)
            for key in keys if key in results
        }
        return dict(inputs=inputs, data_samples=data_samples)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(inputs_key={self.inputs_key!r}, '
                f'meta_keys={self.meta_keys})')
