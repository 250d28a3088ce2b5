"""Convert an official Ego-Exo4D POTTER hand checkpoint to hp3d, and back.

The official baseline (``PoolAttnHR_Pose_3D``) saves
``{'epoch', 'state_dict', 'optimizer_state_dict', 'val_loss'}``; hp3d's
estimator (``PoolAttnFormerHR`` backbone + ``Pose3DVolumeHead``) loads
``{'state_dict': {'backbone.*', 'head.*'}, 'meta': {...}}``. The key map is
:func:`hp3d.models.backbones.potter.official_to_hp3d` (tensors are unchanged).

The official model saw hands as they are (no left-hand mirroring) and
targets normalised with the official table: evaluate or fine-tune a converted
checkpoint with ``configs/potter/*-noflip.py``, whose data and codec match;
the default configs mirror left hands and use the mirrored table.

Official ImageNet classification checkpoints (``poolattnformer_s12`` /
``s24``) need no conversion: give them to the backbone as
``init_cfg=dict(type='Pretrained', checkpoint=...)``.

Examples::

    python tools/model_converters/potter_to_hp3d.py \\
        POTTER-HandPose-ego4d.pt checkpoints/potter_hand_hp3d.pth
    python tools/model_converters/potter_to_hp3d.py --reverse \\
        work_dirs/potter/best.pth potter_hand_official.pt
"""
import argparse
import os
import os.path as osp
from typing import Dict

import torch

from hp3d.models.backbones.potter import hp3d_to_official, official_to_hp3d

OFFICIAL_BACKBONE = 'poolattnformer_pose.'
HP3D_PREFIXES = ('backbone.', 'head.')


def _model_state(checkpoint: Dict, path: str) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint (``state_dict``/``model`` unwrapped)."""
    for wrapper in ('state_dict', 'model'):
        if wrapper in checkpoint:
            return checkpoint[wrapper]
    if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise ValueError(f'{path}: no state_dict/model entry and not a plain '
                     f'state dict (top-level keys: {sorted(checkpoint)[:8]})')


def official_to_hp3d_checkpoint(checkpoint: Dict, path: str) -> Dict:
    """An official hand checkpoint (loaded) as an hp3d checkpoint.

    Args:
        checkpoint (dict): What ``torch.load`` returned for ``path``.
        path (str): Its file, for messages and ``meta``.

    Returns:
        dict: ``state_dict`` (hp3d keys) and ``meta`` (source file, epoch).

    Raises:
        ValueError: Not an official POTTER hand checkpoint.
    """
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in _model_state(checkpoint, path).items()}
    if not any(k.startswith(OFFICIAL_BACKBONE) for k in state):
        if any(k.startswith('network.') for k in state):
            raise ValueError(
                f'{path} is a PoolAttnFormer classification checkpoint: it '
                f'needs no conversion, use it as the backbone\'s '
                f'init_cfg=dict(type="Pretrained", checkpoint=...)')
        raise ValueError(f'{path}: no {OFFICIAL_BACKBONE}* keys, not an '
                         f'official POTTER hand checkpoint')
    meta = dict(converted_from=osp.abspath(path),
                source_layout='official PoolAttnHR_Pose_3D')
    if 'epoch' in checkpoint:
        meta['source_epoch'] = int(checkpoint['epoch'])
    return dict(state_dict=official_to_hp3d(state), meta=meta)


def hp3d_to_official_checkpoint(checkpoint: Dict, path: str) -> Dict:
    """An hp3d POTTER checkpoint (loaded) in the official layout.

    Only ``backbone.*`` and ``head.*`` tensors are model weights; others
    (e.g. buffers of a data preprocessor) are dropped and listed.

    Args:
        checkpoint (dict): What ``torch.load`` returned for ``path``.
        path (str): Its file, for messages.

    Returns:
        dict: ``{'state_dict': official keys}``, what the official
        ``load_pretrained_weights`` reads.
    """
    state = _model_state(checkpoint, path)
    weights = {k: v for k, v in state.items() if k.startswith(HP3D_PREFIXES)}
    dropped = sorted(set(state) - set(weights))
    if not weights:
        raise ValueError(f'{path}: no backbone.*/head.* keys, not an hp3d '
                         f'POTTER checkpoint')
    if dropped:
        print(f'not model weights, dropped: {dropped}')
    return dict(state_dict=hp3d_to_official(weights))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--reverse', action='store_true',
                        help='hp3d -> official instead of official -> hp3d')
    args = parser.parse_args()
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'checkpoint {args.src!r} not found')
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    if args.reverse:
        out = hp3d_to_official_checkpoint(checkpoint, args.src)
    else:
        out = official_to_hp3d_checkpoint(checkpoint, args.src)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    print(f'wrote {len(out["state_dict"])} tensors to {args.dst}')


if __name__ == '__main__':
    main()
