"""Take one sample out of a collated batch (docs/design.md §2)."""
from typing import Dict, Mapping, Optional

import numpy as np
import torch


def _item(value, index: int):
    if isinstance(value, torch.Tensor):
        return value[index].detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value[index]
    if isinstance(value, Mapping):
        return {key: _item(v, index) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return value[index]
    raise TypeError(f'Cannot take sample {index} of a collated '
                    f'{type(value).__name__}: expected a tensor, an array, '
                    'a list or a dict of them')


def slice_sample(data_samples: Mapping, index: int) -> Dict:
    """The ``index``-th sample of a collated ``data_samples`` dict.

    Args:
        data_samples (Mapping): a batch's ``data_samples``: (B, ...) tensors
            or arrays, lists of B strings, nested dicts of them.
        index (int): sample position in the batch.

    Returns:
        dict: the same keys with one sample's value each; tensors become
        numpy arrays (0-d arrays for per-sample scalars).
    """
    return {key: _item(value, index) for key, value in data_samples.items()}


def sample_image(inputs, index: int) -> Optional[np.ndarray]:
    """The ``index``-th image of a batch's ``inputs``, or None for keypoints.

    Image pipelines collate (B, 3, H, W) uint8 BGR crops; the lifting
    pipeline collates (B, K, 2) normalised keypoints, which have no image.

    Args:
        inputs (Tensor | np.ndarray): the batch's ``inputs``.
        index (int): sample position in the batch.

    Returns:
        np.ndarray | None: (H, W, 3) uint8 BGR, or None for keypoint inputs.
    """
    sample = _item(inputs, index)
    if sample.ndim != 3:
        return None
    return np.ascontiguousarray(
        np.clip(sample, 0, 255).astype(np.uint8).transpose(1, 2, 0))


__all__ = ['slice_sample', 'sample_image']
