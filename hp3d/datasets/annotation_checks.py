"""Read and validate official Ego-Exo4D hand annotation files.

The annotation files are untrusted input: they are parsed with :mod:`json`
only (nothing is executed), their size is capped before reading, and every
hand record is checked before it becomes a sample. A bad record is not
silently dropped: :func:`iter_hand_records` yields it as a
:class:`Rejection` (take, frame, hand, kind and reason) so datasets and tools
can count, report or raise.

File layout (``docs/design.md`` and ``DATA.md``): ``{take_uid:
{frame_number_str: frame}}`` where a frame holds, for ``hand`` in
``right, left``, ``{hand}_hand_3d`` (K x 3 m), ``{hand}_hand_2d`` (K x 2 px),
``{hand}_hand_bbox`` (xyxy px), ``{hand}_hand_valid_3d`` (older files:
``{hand}_hand_valid``, K booleans) and ``metadata``. A hand without
annotation has ``[]`` in its fields. Box-only (inference) files carry only
``{hand}_hand_bbox`` and ``metadata``.
"""
import json
import os
import re
from dataclasses import asdict, dataclass
from itertools import chain
from typing import Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from hp3d.utils.gc_pause import gc_paused

from .camera import IMAGE_SIZE_PX
from .metainfo import FINGER_JOINTS, HANDS, NUM_JOINTS, WRIST

# Files larger than this (MiB) are refused before reading: parsed JSON takes
# several times the file's size in memory. A hand takes about 2.5 KiB, so the
# limit is ~400k hands (the manual train split has 21k); raise max_file_mb
# for larger genuine files.
MAX_FILE_MB = 1024

# ego_pose_gt_anno_{split}[_public].json
ANNOTATION_FILE_RE = re.compile(
    r'^ego_pose_gt_anno_(?P<split>[A-Za-z0-9]+)(?:_public)?\.json$')

# Keys of a hand's valid flags, newest first.
VALID_KEYS = ('{hand}_hand_valid_3d', '{hand}_hand_valid')
# Per hand: the bbox, 2D and 3D keys, then VALID_KEYS.
_GT_FIELD_KEYS = {
    hand: tuple(k.format(hand=hand) for k in (
        '{hand}_hand_bbox', '{hand}_hand_2d', '{hand}_hand_3d') + VALID_KEYS)
    for hand in HANDS
}

# Characters that would let a name taken from a file escape a directory.
_UNSAFE_CHARS = ('/', '\\', '\x00')

# Rejection kinds (the ``kind`` field): stable ids for tools to group by.
REJECTION_KINDS = (
    'wrong_type',  # a field missing or of the wrong JSON type or value
    'bad_shape',  # an array of the wrong shape
    'non_numeric',  # strings, null or booleans among coordinates
    'infinity',  # Infinity in coordinates or a box
    'missing_metadata',  # metadata absent or lacking a key
    'frame_mismatch',  # frame key != metadata.frame_number
    'take_mismatch',  # take key != metadata.take_uid
    'unsafe_path',  # take_name / take_uid that could leave the image root
    'duplicate',  # the same take or frame key twice
    'bad_box',  # box with NaN, empty, inverted or outside the image
    'nan_joints',  # valid flags pointing at NaN coordinates, NaN wrist
    'too_few_joints',  # fewer than min_valid_joints valid joints
    'bad_units',  # 3D evidently not in metres
    'bad_projection',  # 2D far from the projection of the 3D
)
# What a loader does with a bad record: leave it out (and report it), or
# raise.
ON_BAD_RECORD = ('skip', 'error')
# Largest plausible wrist to middle-finger-base distance, metres (adult
# hands: ~0.09-0.11 m; millimetres would read ~100).
MAX_PALM_M = 1.0
# The benchmark keeps a valid joint's 2D within 30 px of the projection of
# its 3D through the camera intrinsics (../shared/DATA.md).
MAX_REPROJECTION_PX = 30.0


@dataclass(frozen=True)
class Rejection:
    """One annotation record that did not become a sample.

    Args:
        take_uid (str | None): Take key of the record.
        frame (str | None): Frame key (``None`` for a take-level problem).
        hand (str | None): ``'right'``/``'left'`` (``None`` for a frame-level
            problem).
        kind (str): One of :data:`REJECTION_KINDS`.
        reason (str): Human-readable explanation.
    """
    take_uid: Optional[str]
    frame: Optional[str]
    hand: Optional[str]
    kind: str
    reason: str

    def __post_init__(self) -> None:
        if self.kind not in REJECTION_KINDS:
            raise ValueError(f'unknown rejection kind {self.kind!r}; add it '
                             'to REJECTION_KINDS')

    def message(self, source: str) -> str:
        """The rejection as one line naming ``source`` (the file)."""
        return (f'{source}: take {self.take_uid!r}, frame {self.frame!r}, '
                f'hand {self.hand!r}: {self.reason}')

    def to_dict(self) -> Dict[str, Optional[str]]:
        return asdict(self)


@dataclass
class HandRecord:
    """A validated hand: the annotation part of a sample (design §1).

    ``keypoints_2d`` (K, 2) px and ``keypoints_3d`` (K, 3) m are float32 and
    NaN where a joint is not valid, except the wrist's 3D (the root of
    wrist-relative poses). ``bbox`` is (4,) float32 xyxy px. In box-only
    files ``has_gt`` is False, all keypoints are NaN and no joint is valid.
    """
    take_uid: str
    take_name: str
    frame_number: int
    hand: str
    bbox: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray
    keypoints_valid: np.ndarray
    has_gt: bool


class _JsonObject(dict):
    """A JSON object that remembers keys given more than once.

    Python's :mod:`json` keeps the last value of a repeated key without a
    word; the loader must reject such entries instead.
    """

    duplicate_keys: Tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: List[Tuple[str, object]]) -> '_JsonObject':
        obj = cls(pairs)  # the last copy of a repeated key wins here
        if len(obj) != len(pairs):
            seen, duplicates = set(), []
            for key, value in pairs:
                if key in seen:
                    duplicates.append(key)
                else:
                    seen.add(key)
                    obj[key] = value  # keep the first copy
            obj.duplicate_keys = tuple(duplicates)
        return obj


def _duplicates(obj: dict) -> Tuple[str, ...]:
    return getattr(obj, 'duplicate_keys', ())


def read_json(path: str, max_file_mb: float = MAX_FILE_MB) -> object:
    """Parse a JSON file safely, with clear errors.

    Only :mod:`json` parses the text (the bare ``NaN`` tokens of the official
    files are accepted). Repeated object keys are kept once and listed in the
    object's ``duplicate_keys``.

    Args:
        path (str): The file.
        max_file_mb (float): Refuse files larger than this many MiB.

    Returns:
        object: The parsed JSON value.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not a regular file, too large, not UTF-8,
            or not valid JSON (the message names the file, line and
            column).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: no such file')
    if not os.path.isfile(path):
        raise ValueError(f'{path}: not a regular file')
    limit = int(max_file_mb * 2**20)
    too_large = ValueError(
        f'{path}: larger than the {max_file_mb:g} MiB limit (max_file_mb); '
        'refusing to parse it. Raise max_file_mb if the file is genuine.')
    if os.path.getsize(path) > limit:
        raise too_large
    # Read at most limit + 1 bytes: the file may grow while it is read.
    with open(path, 'rb') as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise ValueError(f'{path}: not UTF-8 text (byte {e.start}): '
                         f'{e.reason}') from None
    try:
        with gc_paused():
            return json.loads(text, object_pairs_hook=_JsonObject.from_pairs)
    except json.JSONDecodeError as e:
        raise ValueError(
            f'{path}: invalid JSON at line {e.lineno}, column {e.colno} '
            f'(char {e.pos}): {e.msg}. The file may be truncated or '
            'corrupted; download it again.') from None
    except RecursionError:
        raise ValueError(f'{path}: JSON nested too deeply to be an '
                         'annotation file') from None


def infer_split(ann_file: str) -> Optional[str]:
    """Split name from ``ego_pose_gt_anno_{split}[_public].json``.

    Returns:
        str | None: e.g. ``'val'``, or ``None`` for another file name.
    """
    match = ANNOTATION_FILE_RE.match(os.path.basename(ann_file))
    return match.group('split') if match else None


def is_safe_name(name: object) -> bool:
    """Whether ``name`` is a single, plain path component.

    Rejects non-strings, ``''``, ``'.'``, ``'..'``, absolute paths and
    anything holding a path separator or a NUL byte.
    """
    return (isinstance(name, str) and name not in ('', '.', '..')
            and not any(c in name for c in _UNSAFE_CHARS))


class _BadRecord(Exception):
    """Raised inside the checks; becomes a :class:`Rejection`."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _array(value: object, shape: Tuple[int, ...], name: str) -> np.ndarray:
    """A float64 array of ``shape`` from a JSON list."""
    if not isinstance(value, list):
        raise _BadRecord('wrong_type', f'{name}: expected a list, got '
                         f'{type(value).__name__}')
    try:
        arr = np.array(value)
    except ValueError:
        raise _BadRecord('bad_shape', f'{name}: ragged array, expected '
                         f'shape {shape}') from None
    if arr.shape != shape:
        raise _BadRecord('bad_shape', f'{name}: expected shape {shape}, '
                         f'got {arr.shape}')
    # numpy turns true/false among numbers into 1.0/0.0: look at the types
    if arr.dtype.kind not in 'fiu' or bool in {
            type(v) for row in value
            for v in (row if isinstance(row, list) else (row, ))}:
        raise _BadRecord('non_numeric', f'{name}: non-numeric values '
                         '(strings, null or booleans) among the coordinates')
    arr = arr.astype(np.float64)
    if np.isinf(arr).any():
        raise _BadRecord('infinity', f'{name}: Infinity among the '
                         'coordinates')
    return arr


def _box(frame: dict, hand: str) -> np.ndarray:
    """The hand's xyxy box, checked to be a non-empty box in the image."""
    name = f'{hand}_hand_bbox'
    bbox = _array(frame[name], (4, ), name)
    if np.isnan(bbox).any():
        raise _BadRecord('bad_box', f'{name}: NaN in the box')
    x1, y1, x2, y2 = bbox
    if x2 < x1 or y2 < y1:
        raise _BadRecord('bad_box', f'{name}: inverted box {bbox.tolist()} '
                         '(x2 < x1 or y2 < y1)')
    if x2 == x1 or y2 == y1:
        raise _BadRecord('bad_box', f'{name}: empty box {bbox.tolist()}')
    if x1 < 0 or y1 < 0 or x2 > IMAGE_SIZE_PX or y2 > IMAGE_SIZE_PX:
        raise _BadRecord('bad_box', f'{name}: box {bbox.tolist()} outside '
                         f'the {IMAGE_SIZE_PX}x{IMAGE_SIZE_PX} image')
    return bbox


def _valid_flags(frame: dict, hand: str) -> np.ndarray:
    """The hand's (K,) bool valid flags, from either key version."""
    key = next((k.format(hand=hand) for k in VALID_KEYS
                if k.format(hand=hand) in frame), None)
    if key is None:
        raise _BadRecord('wrong_type', f'missing {hand}_hand_valid_3d (or '
                         f'{hand}_hand_valid)')
    flags = frame[key]
    if not isinstance(flags, list):
        raise _BadRecord('wrong_type', f'{key}: expected a list, got '
                         f'{type(flags).__name__}')
    valid = np.array(flags)
    if valid.shape != (NUM_JOINTS, ) or valid.dtype != bool:
        raise _BadRecord('wrong_type', f'{key}: expected {NUM_JOINTS} '
                         'booleans')
    return valid


def _gt_hand(frame: dict, hand: str, min_valid_joints: int
             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bbox, keypoints_2d, keypoints_3d, valid) of an annotated hand.

    Coordinates of invalid joints become NaN, except the wrist's 3D.
    """
    for key in (f'{hand}_hand_2d', f'{hand}_hand_bbox'):
        if key not in frame:
            raise _BadRecord('wrong_type', f'missing {key}')
    valid = _valid_flags(frame, hand)
    bbox = _box(frame, hand)
    kpts_2d = _array(frame[f'{hand}_hand_2d'], (NUM_JOINTS, 2),
                     f'{hand}_hand_2d')
    kpts_3d = _array(frame[f'{hand}_hand_3d'], (NUM_JOINTS, 3),
                     f'{hand}_hand_3d')

    nan_3d = np.isnan(kpts_3d).any(axis=1)
    num_valid = int(valid.sum())
    if num_valid and nan_3d[valid].all():
        raise _BadRecord('nan_joints', f'all {num_valid} valid joints have '
                         'NaN 3D coordinates')
    bad = np.flatnonzero(valid & nan_3d)
    if bad.size:
        raise _BadRecord('nan_joints', 'valid flags point at NaN 3D '
                         f'coordinates (joints {bad.tolist()})')
    # The official reprojection check skips the wrist, so a valid wrist may
    # lack its 2D annotation; any other valid joint must have one.
    nan_2d = np.isnan(kpts_2d).any(axis=1)
    nan_2d[WRIST] = False
    bad = np.flatnonzero(valid & nan_2d)
    if bad.size:
        raise _BadRecord('nan_joints', 'valid flags point at NaN 2D '
                         f'coordinates (joints {bad.tolist()})')
    if nan_3d[WRIST]:
        raise _BadRecord('nan_joints', 'wrist 3D is NaN (the root of '
                         'wrist-relative poses and of the official '
                         'evaluation)')
    if num_valid < min_valid_joints:
        raise _BadRecord('too_few_joints', f'{num_valid} valid joints, '
                         f'fewer than min_valid_joints={min_valid_joints}')
    base = FINGER_JOINTS['middle'][0]
    if valid[base]:
        palm = float(np.linalg.norm(kpts_3d[base] - kpts_3d[WRIST]))
        if palm > MAX_PALM_M:
            raise _BadRecord(
                'bad_units', f'the wrist is {palm:.3g} from the middle '
                "finger's base, where hands measure ~0.1 m: the 3D is not in "
                'metres (millimetres?)')
    kpts_2d[~valid] = np.nan
    invalid = ~valid
    invalid[WRIST] = False
    kpts_3d[invalid] = np.nan
    return bbox, kpts_2d, kpts_3d, valid


def is_annotated(frame: dict, hand: str) -> bool:
    """Whether a frame holds an annotation for ``hand`` (official rule).

    A hand counts when its ``{hand}_hand_3d`` is non-empty; in box-only
    frames (no ``{hand}_hand_3d`` key) when its ``{hand}_hand_bbox`` is.
    """
    key_3d = f'{hand}_hand_3d'
    if key_3d in frame:
        return frame[key_3d] != []
    return frame.get(f'{hand}_hand_bbox', []) != []


def _metadata(take_key: str, frame_key: str, frame: object) -> dict:
    """The frame's metadata, checked against the take and frame keys."""
    if not isinstance(frame, dict):
        raise _BadRecord('wrong_type', f'frame entry is '
                         f'{type(frame).__name__}, not an object')
    if _duplicates(frame):
        raise _BadRecord('duplicate', 'duplicate keys '
                         f'{list(_duplicates(frame))} in the frame')
    meta = frame.get('metadata')
    if not isinstance(meta, dict):
        raise _BadRecord('missing_metadata', 'missing metadata')
    for key, kind in (('take_uid', str), ('take_name', str),
                      ('frame_number', int)):
        if key not in meta:
            raise _BadRecord('missing_metadata', f'metadata lacks {key!r}')
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise _BadRecord('wrong_type', f'metadata.{key} is '
                             f'{type(meta[key]).__name__}, not '
                             f'{kind.__name__}')
    for key in ('take_name', 'take_uid'):
        if not is_safe_name(meta[key]):
            raise _BadRecord('unsafe_path', f'unsafe metadata.{key} '
                             f'{meta[key]!r}: it must be one plain path '
                             "component (no '/', '\\', NUL, '.' or '..')")
    if meta['take_uid'] != take_key:
        raise _BadRecord('take_mismatch', 'metadata.take_uid '
                         f'{meta["take_uid"]!r} disagrees with the take key')
    if str(meta['frame_number']) != frame_key:
        raise _BadRecord('frame_mismatch', f'frame key {frame_key!r} '
                         'disagrees with metadata.frame_number '
                         f'{meta["frame_number"]}')
    if meta['frame_number'] < 0:
        raise _BadRecord('wrong_type', 'negative metadata.frame_number '
                         f'{meta["frame_number"]}')
    return meta


def _hand_record(meta: dict, frame: dict, hand: str,
                 min_valid_joints: int) -> HandRecord:
    """A checked hand: GT when the frame has ``{hand}_hand_3d``, else a box
    of a box-only (inference) file."""
    has_gt = f'{hand}_hand_3d' in frame
    gt_keys = [key.format(hand=hand) for key in ('{hand}_hand_2d', ) +
               VALID_KEYS if frame.get(key.format(hand=hand), []) != []]
    if not has_gt and gt_keys:
        # a GT record that lost its 3D key must not pass as a box-only hand
        raise _BadRecord('wrong_type', f'{gt_keys} without {hand}_hand_3d')
    if has_gt:
        bbox, kpts_2d, kpts_3d, valid = _gt_hand(frame, hand,
                                                 min_valid_joints)
    else:
        bbox = _box(frame, hand)
        kpts_2d = np.full((NUM_JOINTS, 2), np.nan)
        kpts_3d = np.full((NUM_JOINTS, 3), np.nan)
        valid = np.zeros(NUM_JOINTS, dtype=bool)
    return HandRecord(
        take_uid=meta['take_uid'],
        take_name=meta['take_name'],
        frame_number=meta['frame_number'],
        hand=hand,
        bbox=bbox.astype(np.float32),
        keypoints_2d=kpts_2d.astype(np.float32),
        keypoints_3d=kpts_3d.astype(np.float32),
        keypoints_valid=valid,
        has_gt=has_gt)


def _bulk_gt_records(hands: List[tuple], min_valid_joints: int
                     ) -> List[Optional[HandRecord]]:
    """The GT hands of one take checked as stacked arrays.

    The per-hand checks cost ~60 us a hand, mostly numpy calls on tiny
    arrays; here each check is one call for the take. A hand that passes
    every check of :func:`_gt_hand` here gets its :class:`HandRecord`; any
    other hand (a check failing, a missing or odd field, a box-only hand, a
    palm near the limit) gets None and is checked on its own, which says
    why. When the take's arrays cannot be stacked (ragged, strings, null)
    every hand is checked on its own.

    Args:
        hands (list): ``(frame_key, meta, frame, hand)`` of the take's
            annotated hands.
        min_valid_joints (int): As :func:`iter_hand_records`.

    Returns:
        list: A record or None per hand.
    """
    records: List[Optional[HandRecord]] = [None] * len(hands)
    rows, fields = [], ([], [], [], [])
    for i, (_, _, frame, hand) in enumerate(hands):
        keys = _GT_FIELD_KEYS[hand]
        valid_key = next((k for k in keys[3:] if k in frame), None)
        values = [frame.get(k) for k in keys[:3]] + [frame.get(valid_key)]
        if all(type(v) is list for v in values):
            rows.append(i)
            for field, value in zip(fields, values):
                field.append(value)
    if not rows:
        return records
    n = len(rows)
    try:
        bbox, kpts_2d, kpts_3d, valid = (np.array(f) for f in fields)
    except (ValueError, TypeError, OverflowError):  # ragged, odd values
        return records
    if (bbox.shape != (n, 4) or kpts_2d.shape != (n, NUM_JOINTS, 2)
            or kpts_3d.shape != (n, NUM_JOINTS, 3)
            or valid.shape != (n, NUM_JOINTS) or valid.dtype != bool
            or any(a.dtype.kind not in 'fiu' for a in (bbox, kpts_2d,
                                                       kpts_3d))
            or any(_holds_bool(f) for f in fields[:3])):
        return records
    bbox, kpts_2d, kpts_3d = (a.astype(np.float64)
                              for a in (bbox, kpts_2d, kpts_3d))
    x1, y1, x2, y2 = bbox.T
    nan_3d = np.isnan(kpts_3d).any(2)
    nan_2d = np.isnan(kpts_2d).any(2)
    nan_2d[:, WRIST] = False
    base = FINGER_JOINTS['middle'][0]
    palm = np.linalg.norm(kpts_3d[:, base] - kpts_3d[:, WRIST], axis=1)
    bad = (np.isinf(bbox).any(1) | np.isinf(kpts_2d).any((1, 2))
           | np.isinf(kpts_3d).any((1, 2))
           # false for NaN too
           | ~((x1 < x2) & (y1 < y2) & (x1 >= 0) & (y1 >= 0)
               & (x2 <= IMAGE_SIZE_PX) & (y2 <= IMAGE_SIZE_PX))
           | (valid & nan_3d).any(1) | (valid & nan_2d).any(1)
           | nan_3d[:, WRIST] | (valid.sum(1) < min_valid_joints)
           # near the limit the per-hand check decides: its norm may round
           # the last bit otherwise
           | valid[:, base] & ~(palm < MAX_PALM_M * (1 - 1e-9)))
    kpts_2d[~valid] = np.nan
    invalid = ~valid
    invalid[:, WRIST] = False
    kpts_3d[invalid] = np.nan
    bbox, kpts_2d, kpts_3d = (a.astype(np.float32)
                              for a in (bbox, kpts_2d, kpts_3d))
    for j in np.flatnonzero(~bad):
        _, meta, _, hand = hands[rows[j]]
        records[rows[j]] = HandRecord(
            take_uid=meta['take_uid'], take_name=meta['take_name'],
            frame_number=meta['frame_number'], hand=hand, bbox=bbox[j],
            keypoints_2d=kpts_2d[j], keypoints_3d=kpts_3d[j],
            keypoints_valid=valid[j], has_gt=True)
    return records


def _holds_bool(rows: list) -> bool:
    """Whether nested JSON lists hold true/false (numpy reads them as 1/0)."""
    values = rows
    while values and type(values[0]) is list:
        values = list(chain.from_iterable(values))
    return bool in set(map(type, values))


def iter_hand_records(anno: object, min_valid_joints: int,
                      source: str = 'annotations'
                      ) -> Iterator[Union[HandRecord, Rejection]]:
    """Validate an annotation file's content, one hand at a time.

    Hands are visited take by take, frame by frame, right then left (the
    official order). Hands without annotation (``[]``) are skipped silently.
    A frame-level problem (metadata, keys) rejects the frame once, with
    ``hand=None``.

    Args:
        anno (object): Parsed file (:func:`read_json`).
        min_valid_joints (int): Reject GT hands with fewer valid joints.
        source (str): Name of the file, for error messages.

    Yields:
        HandRecord | Rejection: A valid hand, or why a record was rejected.

    Raises:
        ValueError: The top level is not an object of takes.
    """
    if not isinstance(anno, dict):
        raise ValueError(f'{source}: the top level must be an object '
                         '{take_uid: {frame: ...}}, got '
                         f'{type(anno).__name__}')
    for take_key in _duplicates(anno):
        yield Rejection(take_key, None, None, 'duplicate',
                        'duplicate take key (only the first copy is used)')
    for take_key, take in anno.items():
        if not isinstance(take, dict):
            yield Rejection(take_key, None, None, 'wrong_type',
                            f'take entry is {type(take).__name__}, not an '
                            'object')
            continue
        for frame_key in _duplicates(take):
            yield Rejection(take_key, frame_key, None, 'duplicate',
                            'duplicate frame key (only the first copy is '
                            'used)')
        # frame-level rejections and hands, in file order
        slots: List[Union[Rejection, tuple]] = []
        for frame_key, frame in take.items():
            try:
                meta = _metadata(take_key, frame_key, frame)
            except _BadRecord as e:
                slots.append(
                    Rejection(take_key, frame_key, None, e.kind, e.reason))
                continue
            slots.extend((frame_key, meta, frame, hand) for hand in HANDS
                         if is_annotated(frame, hand))
        hands = [s for s in slots if not isinstance(s, Rejection)]
        bulk = iter(_bulk_gt_records(hands, min_valid_joints))
        for slot in slots:
            if isinstance(slot, Rejection):
                yield slot
                continue
            record = next(bulk)
            if record is not None:
                yield record
                continue
            frame_key, meta, frame, hand = slot
            try:
                yield _hand_record(meta, frame, hand, min_valid_joints)
            except _BadRecord as e:
                yield Rejection(take_key, frame_key, hand, e.kind, e.reason)


def annotated_hand_keys(anno: object) -> List[Tuple[str, str, str]]:
    """``(take_uid, frame_key, hand)`` of every hand the official evaluation
    needs a prediction for (see :func:`is_annotated`); no validation.

    Raises:
        ValueError: The content is not ``{take: {frame: object}}``.
    """
    if not isinstance(anno, dict):
        raise ValueError('the top level must be an object of takes')
    keys = []
    for take_key, take in anno.items():
        if not isinstance(take, dict):
            raise ValueError(f'take {take_key!r} is not an object')
        for frame_key, frame in take.items():
            if not isinstance(frame, dict):
                raise ValueError(f'take {take_key!r}, frame {frame_key!r} is '
                                 'not an object')
            keys.extend((take_key, frame_key, hand) for hand in HANDS
                        if is_annotated(frame, hand))
    return keys


__all__ = [
    'MAX_FILE_MB', 'ON_BAD_RECORD', 'MAX_PALM_M', 'MAX_REPROJECTION_PX',
    'ANNOTATION_FILE_RE', 'REJECTION_KINDS', 'Rejection',
    'HandRecord', 'read_json', 'infer_split', 'is_safe_name', 'is_annotated',
    'iter_hand_records', 'annotated_hand_keys'
]
