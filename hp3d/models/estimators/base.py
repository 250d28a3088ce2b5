"""The estimator shared by both pipelines: backbone -> head, codec-decoded.

Note:
    B: batch size, K: joints.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.model import BaseModel
from torch import Tensor

from hp3d.datasets.metainfo import MIRROR_AXIS
from hp3d.registry import MODELS
from hp3d.utils import ConfigType, OptConfigType, OptMultiConfig

# Per-sample metadata copied from the batch into each prediction dict.
META_KEYS = ('sample_idx', 'take_uid', 'frame_number', 'hand', 'has_gt')
# Per-sample arrays copied when the batch has them (2D metrics, visualisers).
EXTRA_ARRAY_KEYS = ('cam_K', 'keypoints_2d', 'bbox')


def _to_numpy(value) -> Union[np.ndarray, list]:
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return value


class Base3DEstimator(BaseModel):
    """Backbone + head regressing wrist-relative 3D joints.

    ``forward`` follows mmengine: ``mode='loss'`` returns the head's losses,
    ``'predict'`` a list of one prediction dict per sample (docs/design.md §4),
    ``'tensor'`` the head's raw (B, K, 3) output.

    Args:
        backbone (dict): Backbone config.
        head (dict): Head config (``loss``/``predict``/``forward``).
        data_preprocessor (dict, optional): Batch preprocessing on the device.
        init_cfg (dict | list, optional): mmengine init config.
    """

    def __init__(self, backbone: ConfigType, head: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)

    def extract_feat(self, inputs: Tensor,
                     data_samples: Optional[Dict] = None) -> Tensor:
        """Backbone features of a batch; subclasses feed the backbone."""
        raise NotImplementedError

    def forward(self, inputs: Tensor, data_samples: Optional[Dict] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[dict],
                                               Tensor]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        feats = self.extract_feat(inputs, data_samples)
        if mode == 'predict':
            return self.to_predictions(
                self.head.predict(feats, data_samples), data_samples)
        if mode == 'tensor':
            return self.head.forward(feats)
        raise ValueError(f'mode must be loss, predict or tensor, got {mode!r}')

    def loss(self, inputs: Tensor, data_samples: Dict) -> Dict[str, Tensor]:
        """The head's losses on a batch (``forward(mode='loss')``).

        One method for backbone, head and loss, so that ``Hp3dRunner`` can
        compile the whole training forward as one graph.
        """
        return self.head.loss(self.extract_feat(inputs, data_samples),
                              data_samples)

    def parse_losses(self, losses: Dict[str, Tensor]
                     ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's ``parse_losses`` without its ops on scalar losses.

        A 0-dim loss is its own mean and a single loss term its own sum, so
        the total and the logged values are those of ``BaseModel`` and so are
        the gradients, with two autograd nodes fewer per step (~0.6 % of a
        compiled lifting train step). Other losses (per-sample tensors,
        lists) go to ``BaseModel.parse_losses``.
        """
        if not all(isinstance(value, Tensor) and value.dim() == 0
                   for value in losses.values()):
            return super().parse_losses(losses)
        terms = [value for name, value in losses.items() if 'loss' in name]
        loss = terms[0] if len(terms) == 1 else sum(terms)
        log_vars = OrderedDict(loss=loss)
        log_vars.update(losses)
        return loss, log_vars

    @staticmethod
    def to_predictions(pred_mm: Tensor, data_samples: Dict) -> List[dict]:
        """Split a batch of predictions into per-sample dicts.

        Args:
            pred_mm (Tensor): (B, K, 3) wrist-relative mm, in the frame the
                model saw (mirrored for samples with ``flipped``).
            data_samples (dict): The batch's collated sample metadata.

        Returns:
            list[dict]: one dict per sample with ``pred_mm`` (K, 3) in the
            sample's own hand, ``gt_m`` (K, 3), ``valid`` (K,), the
            metadata of ``META_KEYS`` and those of ``EXTRA_ARRAY_KEYS`` that
            the batch carries (un-mirrored).
        """
        missing = [key for key in META_KEYS + ('keypoints_3d',
                                               'keypoints_valid')
                   if key not in data_samples]
        if missing:
            raise KeyError(
                f'predictions need the batch metadata {missing}: a '
                'LiftingTensorDataset for validation or testing keeps '
                'meta_keys=None (all)')
        pred_mm = pred_mm.detach().float()
        flipped = data_samples.get('flipped')
        if flipped is not None:
            sign = torch.ones(len(pred_mm), 1, 3, dtype=pred_mm.dtype,
                              device=pred_mm.device)
            sign[torch.as_tensor(flipped, dtype=torch.bool,
                                 device=pred_mm.device), :, MIRROR_AXIS] = -1
            pred_mm = pred_mm * sign
        pred_mm = pred_mm.cpu().numpy()
        # whole columns converted at once: per-sample conversions were ~10 %
        # of a lifting validation
        columns = {key: _column(data_samples[key]) for key in META_KEYS}
        columns.update(
            pred_mm=pred_mm,
            gt_m=_to_numpy(data_samples['keypoints_3d']),
            valid=np.asarray(_to_numpy(data_samples['keypoints_valid']),
                             dtype=bool))
        columns.update({key: _to_numpy(data_samples[key])
                        for key in EXTRA_ARRAY_KEYS if key in data_samples})
        lengths = {key: len(values) for key, values in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f'batch columns of different lengths: {lengths}')
        keys = list(columns)
        return [dict(zip(keys, row)) for row in zip(*columns.values())]


def _column(values) -> list:
    """Per-sample metadata as plain Python values (JSON- and
    pickle-friendly): numbers, strings, bools."""
    values = _to_numpy(values)
    if isinstance(values, np.ndarray):
        return values.tolist()
    return [_item(value) for value in values]


def _item(value):
    """A numpy scalar as the plain Python value (JSON- and pickle-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


__all__ = ['Base3DEstimator', 'META_KEYS', 'EXTRA_ARRAY_KEYS']
