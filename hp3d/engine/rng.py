"""Capture and restore the process's random number generators.

mmengine re-seeds the generators when a run starts, so a resumed run draws
different dropout masks and augmentations than the run it continues. hp3d
saves the generator states in each checkpoint and restores them where the
interrupted run would have been. The states are stored as tensors, ints and
tuples only, so they load with ``weights_only=True``.
"""
import random
from contextlib import contextmanager
from typing import Dict, Iterator

import numpy as np
import torch

__all__ = ['RNG_STATE_KEY', 'get_rng_state', 'set_rng_state',
           'preserved_rng_state']

# Runtime-info key of the message hub under which checkpoints carry the state.
RNG_STATE_KEY = 'rng_state'


def get_rng_state() -> Dict[str, object]:
    """States of Python's ``random``, numpy's global and torch's generators.

    Returns:
        dict: ``python`` (tuple), ``numpy`` (dict of a (624,) int64 tensor and
        ints/float), ``torch`` (uint8 tensor), ``cuda`` (list of uint8
        tensors, one per device; empty when CUDA is not initialised).
    """
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    cuda = (torch.cuda.get_rng_state_all() if torch.cuda.is_initialized()
            else [])
    return dict(
        python=random.getstate(),
        numpy=dict(
            name=name,
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state(),
        cuda=cuda)


def set_rng_state(state: Dict[str, object]) -> None:
    """Restore generator states captured by :func:`get_rng_state`.

    Args:
        state (dict): The output of :func:`get_rng_state`.
    """
    random.setstate(state['python'])
    numpy_state = state['numpy']
    np.random.set_state(
        (numpy_state['name'], numpy_state['keys'].numpy().astype(np.uint32),
         numpy_state['pos'], numpy_state['has_gauss'],
         numpy_state['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if state['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@contextmanager
def preserved_rng_state() -> Iterator[Dict[str, object]]:
    """Run a block without it advancing any generator outside the block.

    Yields:
        dict: The states restored after the block (:func:`get_rng_state`).
    """
    state = get_rng_state()
    try:
        yield state
    finally:
        set_rng_state(state)
