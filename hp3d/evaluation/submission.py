"""The official Ego-Exo4D hand pose predictions file, and its coverage check.

Layout (metres): ``{take_uid: {frame_number_str: {"left_hand_3d": [] |
K x 3, "right_hand_3d": [] | K x 3}}}``.
"""
import json
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from hp3d.datasets.annotation_checks import annotated_hand_keys, read_json
from hp3d.datasets.metainfo import HANDS
from hp3d.utils.atomic_io import write_text_atomic

# (take_uid, frame_number_str, hand)
HandKey = Tuple[str, str, str]
# How many (take, frame, hand) examples an error message lists.
_NUM_EXAMPLES = 10


def expected_hands(ann_file: str) -> List[HandKey]:
    """Hands of an annotation file that need a prediction (official rule:
    non-empty ``{hand}_hand_3d``, or a box in box-only files)."""
    anno = read_json(ann_file)
    try:
        return annotated_hand_keys(anno)
    except ValueError as e:
        raise ValueError(f'{ann_file}: {e}') from None


def _examples(keys: Iterable[HandKey]) -> str:
    keys = sorted(keys)
    shown = ', '.join(f'({t}, {f}, {h})' for t, f, h in keys[:_NUM_EXAMPLES])
    more = len(keys) - _NUM_EXAMPLES
    return shown + (f' and {more} more' if more > 0 else '')


def check_coverage(predicted: Sequence[HandKey],
                   expected: Sequence[HandKey], source: str) -> None:
    """Require exactly one prediction per expected hand, and no other.

    Args:
        predicted (Sequence[HandKey]): Keys of the predictions, repeats
            included.
        expected (Sequence[HandKey]): Keys that need a prediction.
        source (str): Where ``expected`` comes from, for the message.

    Raises:
        ValueError: Listing (take_uid, frame, hand) examples of missing,
            duplicate and unexpected predictions.
    """
    seen, duplicates = set(), set()
    for key in predicted:
        (duplicates if key in seen else seen).add(key)
    expected_set = set(expected)
    problems = []
    for what, keys in (('missing', expected_set - seen),
                       ('duplicate', duplicates),
                       ('not in the annotation file', seen - expected_set)):
        if keys:
            problems.append(f'{len(keys)} {what}: {_examples(keys)}')
    if problems:
        raise ValueError(
            f'Predictions do not match the hands of {source} (the official '
            'evaluation needs exactly one per hand): ' + '; '.join(problems))


def build_submission(predictions: Dict[HandKey, np.ndarray],
                     frames: Optional[Iterable[Tuple[str, str]]] = None
                     ) -> Dict[str, Dict[str, Dict[str, list]]]:
    """The official predictions structure.

    Args:
        predictions (dict): ``(take_uid, frame_str, hand) -> (K, 3)`` m.
        frames (Iterable, optional): ``(take_uid, frame_str)`` of every
            frame to list (hands without prediction get ``[]``), e.g. all
            frames of the annotation file. Defaults to the predicted frames.

    Returns:
        dict: ``{take_uid: {frame: {"left_hand_3d", "right_hand_3d"}}}``.
    """
    submission: Dict[str, Dict[str, Dict[str, list]]] = {}
    for take_uid, frame in list(frames or []) + [k[:2] for k in predictions]:
        submission.setdefault(take_uid, {}).setdefault(
            frame, {f'{hand}_hand_3d': [] for hand in reversed(HANDS)})
    for (take_uid, frame, hand), joints_m in predictions.items():
        joints_m = np.asarray(joints_m, dtype=np.float64)
        if not np.isfinite(joints_m).all():
            raise ValueError(f'non-finite prediction for ({take_uid}, '
                             f'{frame}, {hand})')
        submission[take_uid][frame][f'{hand}_hand_3d'] = joints_m.tolist()
    return submission


def write_json_atomic(obj: object, path: str) -> None:
    """Write strict JSON (no NaN) so that readers never see a half-written
    file (:func:`hp3d.utils.atomic_io.write_text_atomic`); the directory
    is created if missing."""
    text = json.dumps(obj, allow_nan=False)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    write_text_atomic(path, text)


__all__ = [
    'HandKey', 'expected_hands', 'check_coverage', 'build_submission',
    'write_json_atomic'
]
