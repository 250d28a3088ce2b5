"""A loop's data must hold samples (and its images folder must exist), and
training data must hold 3D GT.

An annotation file whose every record is rejected builds an empty dataset
(the converters report such files), and a box-only file builds one without
any 3D ground truth. A run on either would crash deep in the sampler, or
train for its whole schedule on a loss of 0 and save "best" checkpoints.
"""
import os.path as osp
from collections import Counter
from typing import List

import numpy as np

from hp3d.datasets.transforms import LoadImage

__all__ = ['check_dataset', 'dataset_parts']


def dataset_parts(dataset: object, attr: str) -> List[object]:
    """Each part of ``dataset`` (the parts of a ``ConcatDataset``, else the
    dataset itself), unwrapped through ``.dataset`` (mmengine's wrappers,
    ``LiftingTensorDataset``) down to the first level that has ``attr``, or
    to the innermost one when none has it."""
    if hasattr(dataset, 'datasets'):  # ConcatDataset
        return [part for inner in dataset.datasets
                for part in dataset_parts(inner, attr)]
    while not hasattr(dataset, attr) and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return [dataset]


def _annotation_datasets(dataset: object) -> List[object]:
    """The datasets that read annotation files (``ann_file``)."""
    return [part for part in dataset_parts(dataset, 'ann_file')
            if hasattr(part, 'ann_file')]


def _loads_images(dataset: object) -> bool:
    """Whether the dataset's own pipeline reads image files (the lifting
    path reads annotations only, whatever its ``data_prefix`` says)."""
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms', [])
    return any(isinstance(t, LoadImage) for t in transforms)


def _files(datasets: List[object]) -> str:
    return ', '.join(str(d.ann_file) for d in datasets) or 'its dataset'


def _rejections(datasets: List[object]) -> str:
    kinds = Counter(r['kind'] for d in datasets
                    for r in getattr(d, 'rejections', []))
    if not kinds:
        return ''
    return (f'; {sum(kinds.values())} records were rejected '
            f'({dict(kinds.most_common())}, listed in the log above)')


def check_dataset(dataloader: object, name: str, training: bool) -> None:
    """Raise if ``dataloader``'s data is empty, or, for training, has no
    hand with 3D GT.

    Args:
        dataloader (object): A built dataloader (or a dataset).
        name (str): Its name in the config, for the message.
        training (bool): Whether the loop trains on it.

    Raises:
        ValueError: Naming the annotation files and the rejected records.
    """
    dataset = getattr(dataloader, 'dataset', dataloader)
    parts = _annotation_datasets(dataset)
    if len(dataset) == 0:
        raise ValueError(f'{name}: {_files(parts)} holds no usable hand'
                         f'{_rejections(parts)}')
    for part in filter(_loads_images, parts):
        img_root = getattr(part, 'data_prefix', {}).get('img', '')
        # local roots only (URIs are the file backend's business); without
        # this, every sample fails to load and mmengine gives up after 1000
        if img_root and '://' not in img_root and not osp.isdir(img_root):
            raise FileNotFoundError(
                f'{name}: the image directory {img_root} of {part.ann_file} '
                'does not exist (data_root or data_prefix.img wrong?)')
    if not training:
        return
    has_gt = [d.get_arrays().get('has_gt') for d in parts
              if hasattr(d, 'get_arrays')]
    has_gt = [flags for flags in has_gt if flags is not None]
    if has_gt and not any(np.any(flags) for flags in has_gt):
        raise ValueError(
            f'{name}: none of the {len(dataset)} hands of {_files(parts)} has '
            '3D ground truth (a box-only file?): there is nothing to train on')
