"""The lifting data path held as tensors: batches are slices, not samples.

Per-sample Python (a pipeline call and a dict per hand, then collation) costs
more than the lifting model's own train step. ``LiftingTensorDataset`` encodes
the whole split once with the codec and answers a batch of indices with one
``index_select`` per field (``__getitems__``, which torch's DataLoader calls
with the sampler's batch), so the loop stays an ordinary mmengine run.

Note:
    N: samples in the split, B: batch size, K: joints.
"""
import copy
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from hp3d.registry import DATASETS, FUNCTIONS, KEYPOINT_CODECS
from hp3d.utils import ConfigType, build_module

from .camera import default_intrinsics

# Fields taken from the wrapped dataset's arrays, and those the codec adds.
ARRAY_KEYS = ('keypoints_2d', 'keypoints_3d', 'keypoints_valid', 'bbox',
              'is_left', 'frame_number')
STRING_KEYS = ('take_uid', 'take_name', 'hand')
# What the model trains on: in every batch.
TRAIN_KEYS = ('input_weight', 'target', 'target_weight')
# Per-sample metadata for predictions, metrics and figures; ``meta_keys``
# picks among them.
META_KEYS = ARRAY_KEYS + ('cam_K', 'sample_idx', 'flipped',
                          'has_gt') + STRING_KEYS


@DATASETS.register_module()
class LiftingTensorDataset(Dataset):
    """A lifting split as tensors, batched by ``__getitems__``.

    Args:
        dataset (dict | Dataset): The annotation dataset (e.g.
            ``EgoExo4DHandDataset``); it must offer ``get_arrays()``.
        codec (dict | object): The lifting codec (``LiftingCodec``); its
            ``encode`` is applied once to all N samples.
        device (str): Where the tensors live. ``'cpu'`` (default), or
            ``'cuda'`` to keep the whole split on the GPU (then with
            ``num_workers=0``: worker processes cannot share CUDA tensors).
        meta_keys (Sequence[str], optional): The metadata of ``META_KEYS``
            that batches carry besides ``inputs`` and the training fields
            (``TRAIN_KEYS``); None (default) for all of them, as
            predictions, metrics and figures need. Training reads none: a
            train split with ``meta_keys=()`` saves the selection and the
            data preprocessor's pass over 13 more fields (~1 % of a compiled
            lifting train step on CPU).
    """

    def __init__(self, dataset: ConfigType, codec: ConfigType,
                 device: str = 'cpu',
                 meta_keys: Optional[Sequence[str]] = None) -> None:
        meta_keys = META_KEYS if meta_keys is None else tuple(meta_keys)
        unknown = sorted(set(meta_keys) - set(META_KEYS))
        if unknown:
            raise ValueError(f'meta_keys {unknown} are not among {META_KEYS}')
        self.meta_keys = meta_keys
        self.dataset = build_module(dataset, DATASETS)
        self.codec = build_module(codec, KEYPOINT_CODECS)
        arrays = self.dataset.get_arrays()
        encoded = self.codec.encode(arrays['keypoints_2d'],
                                    arrays['keypoints_3d'],
                                    arrays['keypoints_valid'])
        n = len(arrays['keypoints_2d'])
        cam_K = arrays.get('cam_K')
        if cam_K is None:
            cam_K = np.broadcast_to(default_intrinsics(), (n, 3, 3))
        fields = {key: arrays[key] for key in ARRAY_KEYS}
        fields.update(
            cam_K=cam_K,
            target=encoded['target'],
            target_weight=encoded['target_weight'],
            input_weight=encoded['input_weight'],
            sample_idx=np.arange(n),
            flipped=np.zeros(n, dtype=bool),
            has_gt=np.asarray(arrays.get('has_gt', np.ones(n, dtype=bool))))
        self._inputs = torch.as_tensor(
            np.ascontiguousarray(encoded['inputs'], dtype=np.float32),
            device=device)
        self._fields: Dict[str, Tensor] = {
            key: torch.as_tensor(np.ascontiguousarray(value), device=device)
            for key, value in fields.items()
            if key in TRAIN_KEYS or key in meta_keys
        }
        # numpy string arrays, not lists: mmengine's data preprocessor
        # recurses into every list element on every batch
        self._strings = {key: np.asarray(arrays[key], dtype=str)
                         for key in STRING_KEYS if key in meta_keys}

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def __len__(self) -> int:
        return len(self._inputs)

    def __getitems__(self, indices: Sequence[int]) -> dict:
        """A collated batch: ``dict(inputs (B, K, 2), data_samples=dict)``."""
        rows = np.asarray(indices, dtype=np.int64)
        index = torch.from_numpy(rows).to(self._inputs.device)
        samples = {key: value.index_select(0, index)
                   for key, value in self._fields.items()}
        samples.update({key: values[rows]
                        for key, values in self._strings.items()})
        return dict(inputs=self._inputs.index_select(0, index),
                    data_samples=samples)

    def __getitem__(self, idx: int) -> dict:
        """One sample, in the layout of a pipeline's ``PackInputs``."""
        samples = {key: value[idx] for key, value in self._fields.items()}
        samples.update({key: str(values[idx])
                        for key, values in self._strings.items()})
        return dict(inputs=self._inputs[idx], data_samples=samples)


@FUNCTIONS.register_module()
def batched_collate(batch: dict) -> dict:
    """Collate for datasets whose ``__getitems__`` already returns a batch."""
    if isinstance(batch, list):
        raise TypeError('batched_collate expects a batch from __getitems__; '
                        'this dataset returned single samples: use '
                        "collate_fn=dict(type='default_collate')")
    return batch


__all__ = ['LiftingTensorDataset', 'batched_collate']
