"""The data's target codec must be the model head's (normalisation stats).

A config names its codec once and fills it into the datasets and the head
(``codec = dict(...)``, ``{{_base_.codec}}``), but an override of one place
(``--cfg-options``, a child config that sets the top-level ``codec`` after
the base filled it in) leaves the others as they were: training then
normalises with one set of statistics while decoding, metrics and inference
use another, silently.
"""
from typing import Dict, List

import numpy as np
import torch
from mmengine.model import is_model_wrapper
from torch import nn

__all__ = ['check_codecs']


def _numbers(codec: object) -> Dict[str, np.ndarray]:
    """The numeric attributes of a codec (its statistics and settings)."""
    out = {}
    for key, value in vars(codec).items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, (int, float, np.ndarray)) and not isinstance(
                value, bool):
            out[key] = np.asarray(value, dtype=np.float64)
    return out


def _data_codecs(dataset: object) -> List[object]:
    """Codecs a dataset encodes targets with: its own (lifting), or those of
    its pipeline's transforms (``GenerateTarget``)."""
    while not hasattr(dataset, 'codec') and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset  # mmengine's dataset wrappers
    if hasattr(dataset, 'codec'):
        return [dataset.codec]
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms',
                         [])
    return [t.encoder for t in transforms if hasattr(t, 'encoder')]


def check_codecs(model: nn.Module, dataloader: object, name: str) -> None:
    """Raise unless every codec of ``dataloader``'s data equals the head's.

    Args:
        model (nn.Module): The estimator (or its wrapper); its ``head.codec``
            decodes predictions.
        dataloader (object): A built dataloader (or a dataset).
        name (str): Its name in the config, for the message.

    Raises:
        ValueError: A codec of another type or other numbers, naming the
            differing attributes.
    """
    model = model.module if is_model_wrapper(model) else model
    head_codec = getattr(getattr(model, 'head', None), 'codec', None)
    if head_codec is None:
        return
    dataset = getattr(dataloader, 'dataset', dataloader)
    expected = _numbers(head_codec)
    for codec in _data_codecs(dataset):
        if type(codec) is not type(head_codec):
            raise ValueError(
                f'{name} encodes targets with {type(codec).__name__}, but '
                f'model.head decodes with {type(head_codec).__name__}')
        got = _numbers(codec)
        differ = sorted(key for key in expected.keys() | got.keys()
                        if key not in got or key not in expected
                        or not np.array_equal(got[key], expected[key]))
        if differ:
            raise ValueError(
                f'{name} encodes targets with other {type(codec).__name__} '
                f'settings than model.head.codec decodes them with '
                f'(differ: {", ".join(differ)}). Set the same codec in both: '
                'overriding the top-level `codec` of a config after its base '
                'filled it in, or one of them by --cfg-options, changes only '
                'that one.')
