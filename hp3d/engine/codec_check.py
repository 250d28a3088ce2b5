"""The data's target codec must be the model head's (normalisation stats).

A config names its codec once and fills it into the datasets and the head
(``codec = dict(...)``, ``{{_base_.codec}}``), but an override of one place
(``--cfg-options``, a child config that sets the top-level ``codec`` after
the base filled it in) leaves the others as they were: training then
normalises with one set of statistics while decoding, metrics and inference
use another, silently.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.model import is_model_wrapper
from torch import nn

from hp3d.engine.data_check import dataset_parts

__all__ = ['check_codecs', 'codec_record', 'check_checkpoint_codec']


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


def _differing(expected: Dict[str, object],
               got: Dict[str, object]) -> List[str]:
    """Keys missing on one side or with unequal values, sorted."""
    return sorted(key for key in expected.keys() | got.keys()
                  if key not in got or key not in expected
                  or not np.array_equal(np.asarray(got[key]),
                                        np.asarray(expected[key])))


def _data_codecs(dataset: object) -> List[object]:
    """Codecs a dataset encodes targets with: its own (lifting), or those of
    its pipeline's transforms (``GenerateTarget``)."""
    codecs = []
    for part in dataset_parts(dataset, 'codec'):
        if hasattr(part, 'codec'):
            codecs.append(part.codec)
            continue
        transforms = getattr(getattr(part, 'pipeline', None), 'transforms',
                             [])
        codecs.extend(t.encoder for t in transforms if hasattr(t, 'encoder'))
    return codecs


def _head_codec(model: nn.Module) -> Optional[object]:
    model = model.module if is_model_wrapper(model) else model
    return getattr(getattr(model, 'head', None), 'codec', None)


def codec_record(model: nn.Module) -> Optional[Dict[str, object]]:
    """The head codec's type and numbers, for a checkpoint's ``meta``: the
    statistics are no tensors of the state dict, yet the weights only mean
    something with them."""
    codec = _head_codec(model)
    if codec is None:
        return None
    numbers = {key: value.tolist() for key, value in _numbers(codec).items()}
    return dict(type=type(codec).__name__, **numbers)


def check_checkpoint_codec(model: nn.Module, checkpoint: dict,
                           filename: str) -> None:
    """Raise if ``checkpoint`` was trained with other codec numbers than
    ``model.head.codec`` has (checkpoints without a record pass).

    Raises:
        ValueError: Naming the file and the differing settings.
    """
    saved = (checkpoint.get('meta') or {}).get('codec')
    current = codec_record(model)
    if saved is None or current is None:
        return
    differ = _differing(current, saved)
    if differ:
        raise ValueError(
            f'{filename} was trained with other {saved.get("type")} '
            f'settings than this config\'s model.head.codec '
            f'(differ: {", ".join(differ)}): its predictions would be '
            'decoded with the wrong statistics. Use the codec it was '
            'trained with (its meta["codec"]).')


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
    head_codec = _head_codec(model)
    if head_codec is None:
        return
    dataset = getattr(dataloader, 'dataset', dataloader)
    expected = _numbers(head_codec)
    for codec in _data_codecs(dataset):
        if type(codec) is not type(head_codec):
            raise ValueError(
                f'{name} encodes targets with {type(codec).__name__}, but '
                f'model.head decodes with {type(head_codec).__name__}')
        differ = _differing(expected, _numbers(codec))
        if differ:
            raise ValueError(
                f'{name} encodes targets with other {type(codec).__name__} '
                f'settings than model.head.codec decodes them with '
                f'(differ: {", ".join(differ)}). Set the same codec in both: '
                'overriding the top-level `codec` of a config after its base '
                'filled it in, or one of them by --cfg-options, changes only '
                'that one.')
