"""In-memory hand samples with the loader's interface.

The inferencers turn user inputs into the sample dicts of docs/design.md §1
and hand them to the same data path a dataset feeds: ``get_data_info(i)``
for pipelines, ``get_arrays()`` for ``LiftingTensorDataset``. So inference
and evaluation share every transform and the codec.
"""
import copy
from typing import Dict, List, Sequence

import numpy as np

from hp3d.datasets.metainfo import HAND_METAINFO

__all__ = ['HandSamples']


class HandSamples:
    """A list of sample dicts answering like ``EgoExo4DHandDataset``.

    Args:
        samples (Sequence[dict]): One dict per hand with the keys of
            docs/design.md §1 (without ``sample_idx``, which is the
            position here).
    """

    def __init__(self, samples: Sequence[dict]) -> None:
        self._samples: List[dict] = list(samples)

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(HAND_METAINFO)

    def __len__(self) -> int:
        return len(self._samples)

    def get_data_info(self, idx: int) -> dict:
        """A deep copy of sample ``idx`` (transforms may change it in place)
        with its ``sample_idx``."""
        info = copy.deepcopy(self._samples[idx])
        info['sample_idx'] = idx
        return info

    def get_arrays(self) -> Dict[str, object]:
        """Every field stacked over the samples (keypoint samples only).

        Returns:
            dict: numpy arrays with a leading (N,) axis for array and
            number fields, lists for strings, and ``sample_idx`` (N,).
        """
        if not self._samples:
            raise ValueError('HandSamples.get_arrays: there are no samples')
        arrays: Dict[str, object] = {}
        for key in self._samples[0]:
            values = [sample[key] for sample in self._samples]
            arrays[key] = (values if isinstance(values[0], str) else
                           np.stack([np.asarray(v) for v in values]))
        arrays['sample_idx'] = np.arange(len(self._samples))
        return arrays
