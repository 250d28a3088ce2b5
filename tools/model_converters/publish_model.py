"""Prepare a training checkpoint for release (OpenMMLab's publish_model).

Keeps the weights (``state_dict``) and ``meta`` (the config text, dataset
meta, codec statistics, epoch, seed, versions) and drops what only resuming a
run needs: the optimizer and scheduler states and the message hub (logged
scalar histories, generator states, local paths of other checkpoints). The
file name gets the first 8 hex digits of the file's SHA-256, as in the
OpenMMLab model zoos, so a download can be checked against its name.

The checkpoint is read with hp3d's weights-only loader
(:mod:`hp3d.engine.safe_load`) and written with
:func:`hp3d.utils.atomic_io.write_bytes_atomic`: the published file is
always complete.

Example::

    python tools/model_converters/publish_model.py \\
        work_dirs/lifting/best_egoexo4d_MPJPE_epoch_30.pth \\
        checkpoints/lifting_synthetic.pth
    # -> checkpoints/lifting_synthetic-1a2b3c4d.pth
"""
import argparse
import hashlib
import io
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import torch

from hp3d.engine.safe_load import load_local_checkpoint, register_safe_globals
from hp3d.utils.atomic_io import write_bytes_atomic

# Entries a published checkpoint keeps; the others serve resuming only.
KEPT = ('state_dict', 'meta')
HASH_DIGITS = 8


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('in_file', help='checkpoint written by a training run')
    parser.add_argument('out_file', help='output path; the hash is added '
                        'before its extension')
    return parser.parse_args(argv)


def strip_checkpoint(checkpoint: Dict, path: str) -> Dict:
    """The entries of ``checkpoint`` that inference needs.

    Args:
        checkpoint (dict): A loaded training checkpoint.
        path (str): Its file, for messages.

    Returns:
        dict: ``state_dict`` and, when present, ``meta``.

    Raises:
        ValueError: ``checkpoint`` has no ``state_dict`` of tensors.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path}: holds a {type(checkpoint).__name__}, not '
                         'a checkpoint dict of an mmengine/hp3d training run')
    state = checkpoint.get('state_dict')
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{path}: no `state_dict` of tensors (top-level '
                         f'keys: {sorted(checkpoint)[:8]}); is it a '
                         'checkpoint of an mmengine/hp3d training run?')
    return {key: checkpoint[key] for key in KEPT if key in checkpoint}


def publish(in_file: str, out_file: str) -> str:
    """Write the stripped checkpoint as ``{out stem}-{sha256[:8]}{ext}``.

    Returns:
        str: The published file's path.
    """
    register_safe_globals()
    published = strip_checkpoint(load_local_checkpoint(in_file, 'cpu'),
                                 in_file)
    buffer = io.BytesIO()
    torch.save(published, buffer)
    data = buffer.getvalue()
    stem, ext = osp.splitext(out_file)
    digest = hashlib.sha256(data).hexdigest()[:HASH_DIGITS]
    final = f'{stem}-{digest}{ext or ".pth"}'
    os.makedirs(osp.dirname(osp.abspath(final)), exist_ok=True)
    write_bytes_atomic(final, data)
    return final


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    final = publish(args.in_file, args.out_file)
    print(f'{args.in_file} ({osp.getsize(args.in_file)} bytes) -> {final} '
          f'({osp.getsize(final)} bytes: {", ".join(KEPT)})')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
