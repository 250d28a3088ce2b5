"""Ego-Exo4D ego hand pose: one sample per annotated hand (design §1)."""
import functools
import hashlib
import os
import os.path as osp
import sys
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from hp3d.registry import DATASETS
from hp3d.utils.gc_pause import gc_paused

from .annotation_cache import AnnotationCache, CacheEntry
from .annotation_checks import (
    MAX_FILE_MB,
    MAX_PALM_M,
    MAX_REPROJECTION_PX,
    ON_BAD_RECORD,
    HandRecord,
    Rejection,
    infer_split,
    is_safe_name,
    iter_hand_records,
    read_json,
)
from .camera import default_intrinsics
from .metainfo import (
    HAND_METAINFO,
    MIN_VALID_JOINTS,
    NUM_JOINTS,
    WRIST,
)

# Per-sample arrays stacked by ``get_arrays`` (and cached): dtype and
# per-sample shape.
_ARRAYS = dict(
    keypoints_2d=(np.float32, (NUM_JOINTS, 2)),
    keypoints_3d=(np.float32, (NUM_JOINTS, 3)),
    keypoints_valid=(bool, (NUM_JOINTS, )),
    bbox=(np.float32, (4, )),
    is_left=(bool, ()),
    has_gt=(bool, ()),
    frame_number=(np.int64, ()),
    cam_K=(np.float32, (3, 3)),
)
_LIST_KEYS = ('take_uid', 'take_name', 'hand')
# The modules whose code decides what a file's samples are: a change to any
# of them makes cached samples misses.
_CHECKING_MODULES = ('hp3d.datasets.annotation_cache',
                     'hp3d.datasets.annotation_checks',
                     'hp3d.datasets.camera', 'hp3d.datasets.egoexo4d',
                     'hp3d.datasets.metainfo')


@functools.lru_cache(maxsize=None)
def _checking_code_digest() -> str:
    digest = hashlib.blake2b(digest_size=20)
    for name in _CHECKING_MODULES:
        with open(sys.modules[name].__file__, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()


def _stack(infos: Sequence[dict]) -> Dict[str, object]:
    """The samples' ``_ARRAYS`` as (N, ...) arrays, ``_LIST_KEYS`` as lists."""
    arrays: Dict[str, object] = {
        key: np.array([info[key] for info in infos], dtype=dtype
                      ).reshape((-1, ) + shape)
        for key, (dtype, shape) in _ARRAYS.items()
    }
    arrays.update({key: [info[key] for info in infos] for key in _LIST_KEYS})
    return arrays


def _missing_file_error(ann_file: str) -> FileNotFoundError:
    return FileNotFoundError(
        f'Annotation file {ann_file} not found. Put the real Ego-Exo4D hand '
        'annotations in data/egoexo4d/annotations/ '
        '(ego_pose_gt_anno_{train,val,test}_public.json; '
        'tools/dataset_converters/egoexo4d.py links a download there), or '
        'make a synthetic set with `python tools/dataset_converters/'
        'make_synthetic_egoexo4d.py --out data/synthetic_egoexo4d` '
        '(configs/*synthetic* use it).')


def read_intrinsics(camera_file: str, max_file_mb: float = MAX_FILE_MB
                    ) -> np.ndarray:
    """Aria intrinsics of a take from ``camera_pose/{take_uid}.json``.

    The file maps camera names to ``{"camera_intrinsics": 3x3,
    "camera_extrinsics": {frame: 3x4}}``; the Aria (ego) camera is the entry
    whose name starts with ``aria``, or the only entry.

    Args:
        camera_file (str): The take's camera file.
        max_file_mb (float): Size limit of the file in MiB.

    Returns:
        np.ndarray: (3, 3) float32 intrinsics.

    Raises:
        ValueError: The file holds no usable Aria intrinsics.
    """
    cameras = read_json(camera_file, max_file_mb)
    if not isinstance(cameras, dict) or not cameras:
        raise ValueError(f'{camera_file}: expected an object of cameras')
    names = sorted(n for n in cameras if n.lower().startswith('aria'))
    if not names and len(cameras) == 1:
        names = list(cameras)
    if len(names) != 1:
        raise ValueError(f'{camera_file}: expected one Aria camera, found '
                         f'{names or sorted(cameras)}')
    camera = cameras[names[0]]
    intrinsics = (camera.get('camera_intrinsics')
                  if isinstance(camera, dict) else None)
    try:
        cam_K = np.array(intrinsics, dtype=np.float64)
    except (TypeError, ValueError):
        cam_K = np.empty(0)
    if cam_K.shape != (3, 3) or not np.isfinite(cam_K).all():
        raise ValueError(f'{camera_file}: {names[0]}.camera_intrinsics must '
                         'be a finite 3x3 matrix')
    return cam_K.astype(np.float32)


@DATASETS.register_module()
class EgoExo4DHandDataset(BaseDataset):
    """Ego-Exo4D ego hand pose annotations, one sample per annotated hand.

    Reads the official files ``ego_pose_gt_anno_{split}[_public].json``
    (either valid-flag key, bare ``NaN`` tokens) and box-only inference
    files such as the public test file (``has_gt`` False). Hands come take
    by take, frame by frame, right then left. Each sample holds the keys of
    design §1; images are ``{img}/{split}/{take_name}/{frame:06d}.jpg``.

    Bad records (see :mod:`hp3d.datasets.annotation_checks`) are skipped and
    listed in :attr:`rejections`, summarised once in the log, or raise at
    the first one with ``on_bad_record='error'``.

    Args:
        ann_file (str): Annotation file, relative to ``data_root`` unless
            absolute.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
            Defaults to ''.
        data_prefix (dict, optional): ``img``: image root ('' for no
            images: ``img_path`` is then ''); ``camera``: directory of
            per-take ``{take_uid}.json`` camera files (takes without one,
            or a missing directory, use
            :func:`hp3d.datasets.camera.default_intrinsics`). Defaults to
            ``dict(img='images', camera='camera_pose')``.
        split (str, optional): Image sub-directory. Defaults to the split
            in the file name.
        min_valid_joints (int): Reject GT hands with fewer valid joints
            (the official rule is 10). Defaults to 10.
        on_bad_record (str): ``'skip'`` or ``'error'``. Defaults to
            ``'skip'``.
        max_file_mb (float): Refuse annotation and camera files larger than
            this (MiB). Defaults to 1024.
        cache (bool): Keep the checked samples in
            ``{annotation dir}/.hp3d_cache/`` and load them from there while
            the file, its takes' camera files, these arguments and hp3d's
            checking code are unchanged
            (:mod:`hp3d.datasets.annotation_cache`): later runs skip parsing
            and checking. Defaults to False.
        pipeline (Sequence[dict | Callable]): Data transforms.
        test_mode (bool): mmengine's test mode flag.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``indices``, ``serialize_data``, ``lazy_init``...).
    """

    METAINFO: dict = HAND_METAINFO

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 split: Optional[str] = None,
                 min_valid_joints: int = MIN_VALID_JOINTS,
                 on_bad_record: str = 'skip',
                 max_file_mb: float = MAX_FILE_MB,
                 cache: bool = False,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        if on_bad_record not in ON_BAD_RECORD:
            raise ValueError(f'on_bad_record must be one of {ON_BAD_RECORD},'
                             f' got {on_bad_record!r}')
        split = infer_split(ann_file) if split is None else split
        if split is None:
            raise ValueError(
                f'Cannot infer the split from {ann_file!r} (expected '
                'ego_pose_gt_anno_{split}[_public].json): pass split=.')
        if not is_safe_name(split):
            raise ValueError(f'split {split!r} must be one plain path '
                             'component')
        self.split = split
        self.min_valid_joints = min_valid_joints
        self.on_bad_record = on_bad_record
        self.max_file_mb = max_file_mb
        self.cache = cache
        self.rejections: List[Dict[str, Optional[str]]] = []
        self._arrays: Optional[Dict[str, object]] = None
        if data_prefix is None:
            data_prefix = dict(img='images', camera='camera_pose')
        data_prefix = {'img': '', 'camera': '', **data_prefix}
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=list(pipeline),
            test_mode=test_mode,
            **kwargs)

    def _join_prefix(self) -> None:
        # An empty prefix means "none" (no images, no camera files); mmengine
        # would turn it into data_root itself.
        unset = [key for key, prefix in self.data_prefix.items() if not prefix]
        super()._join_prefix()
        self.data_prefix.update({key: '' for key in unset})

    @gc_paused()
    def load_data_list(self) -> List[dict]:
        """Read, validate and convert the annotation file, or take its
        checked samples from the cache (``cache=True``)."""
        if not osp.isfile(self.ann_file):
            raise _missing_file_error(self.ann_file)
        cache = AnnotationCache(self.ann_file, self._cache_key()) \
            if self.cache else None
        entry = cache.load() if cache is not None else None
        if entry is not None and entry.cameras == self._camera_stats(
                entry.cameras):
            data_list, rejections = self._restore(entry)
            self._log_summary(data_list, rejections, cache.path)
        else:
            data_list, rejections, cameras = self._parse()
            if cache is not None:
                arrays = _stack(data_list)
                arrays.update({key: np.asarray(arrays[key], dtype=str)
                               for key in _LIST_KEYS})
                cache.save(CacheEntry(arrays,
                                      [r.to_dict() for r in rejections],
                                      self._camera_stats(cameras)))
            self._log_summary(data_list, rejections)
        self.rejections = [r.to_dict() for r in rejections]
        return data_list

    def _parse(self) -> Tuple[List[dict], List[Rejection], List[str]]:
        """The file's samples and rejections, and the takes whose camera
        intrinsics the samples use."""
        anno = read_json(self.ann_file, self.max_file_mb)
        data_list, rejections = [], []
        intrinsics: Dict[str, np.ndarray] = {}
        self._takes_without_camera: List[str] = []
        for item in iter_hand_records(anno, self.min_valid_joints,
                                      self.ann_file):
            if isinstance(item, Rejection):
                if self.on_bad_record == 'error':
                    raise ValueError(item.message(self.ann_file))
                rejections.append(item)
                continue
            if item.take_uid not in intrinsics:
                intrinsics[item.take_uid] = self._take_intrinsics(
                    item.take_uid)
            data_list.append(self._sample(item, intrinsics[item.take_uid]))
        data_list, off_px = self._check_projection(data_list, rejections)
        self._refuse_whole_file(data_list, rejections, off_px)
        return data_list, rejections, list(intrinsics)

    def _cache_key(self) -> dict:
        """What the samples depend on besides the file and camera files (the
        image paths are not cached but made again)."""
        camera_dir = self.data_prefix['camera']
        return dict(
            min_valid_joints=self.min_valid_joints,
            on_bad_record=self.on_bad_record,
            max_file_mb=self.max_file_mb,
            camera_dir=osp.abspath(camera_dir) if camera_dir else '',
            code=_checking_code_digest())

    def _camera_stats(self, take_uids: Sequence[str]
                      ) -> Dict[str, Optional[List[int]]]:
        """Take uid -> [size, mtime_ns] of its camera file, None if none."""
        camera_dir = self.data_prefix['camera']
        stats: Dict[str, Optional[List[int]]] = {}
        for take_uid in take_uids:
            stats[take_uid] = None
            if camera_dir:
                try:
                    st = os.stat(osp.join(camera_dir, f'{take_uid}.json'))
                    stats[take_uid] = [st.st_size, st.st_mtime_ns]
                except FileNotFoundError:
                    pass
        return stats

    def _restore(self, entry: CacheEntry
                 ) -> Tuple[List[dict], List[Rejection]]:
        """Samples and rejections from a cache entry, as :meth:`_parse`
        made them."""
        arrays = entry.arrays
        lists = {key: arrays[key].tolist()
                 for key in _LIST_KEYS + ('frame_number', 'has_gt')}
        data_list = [
            self._sample(
                HandRecord(take_uid, take_name, frame_number, hand,
                           *(arrays[key][i] for key in (
                               'bbox', 'keypoints_2d', 'keypoints_3d',
                               'keypoints_valid')), has_gt),
                arrays['cam_K'][i])
            for i, (take_uid, take_name, hand, frame_number, has_gt)
            in enumerate(zip(*lists.values()))
        ]
        self._takes_without_camera = [
            take_uid for take_uid, stat in entry.cameras.items()
            if stat is None
        ] if self.data_prefix['camera'] else []
        return data_list, [Rejection(**r) for r in entry.rejections]

    def _check_projection(self, data_list: List[dict],
                          rejections: List[Rejection]
                          ) -> Tuple[List[dict], List[float]]:
        """Reject GT hands whose 2D is not the projection of their 3D
        through the take's intrinsics: 2D of the portrait view, of another
        image size, or a camera file of another take would otherwise train
        and evaluate silently.

        Returns:
            tuple: The kept samples, and each rejected hand's median
            distance (px).
        """
        gt_rows = [i for i, d in enumerate(data_list) if d['has_gt']]
        if not gt_rows:
            return data_list, []
        gt = [data_list[i] for i in gt_rows]
        cam = np.einsum('nij,nkj->nki', np.stack([d['cam_K'] for d in gt]),
                        np.stack([d['keypoints_3d'] for d in gt]))
        with np.errstate(divide='ignore', invalid='ignore'):
            px = cam[..., :2] / cam[..., 2:]
        dist = np.linalg.norm(
            px - np.stack([d['keypoints_2d'] for d in gt]), axis=-1)
        dist[cam[..., 2] <= 0] = np.inf  # a valid joint behind the camera
        # the official check skips the wrist (its 2D may be missing);
        # invalid joints are NaN
        dist = np.delete(dist, WRIST, axis=1)
        has_2d = ~np.isnan(dist).all(axis=1)
        median = np.full(len(gt), np.nan)
        median[has_2d] = np.nanmedian(dist[has_2d], axis=1)
        off = np.flatnonzero(median > MAX_REPROJECTION_PX)
        for i in off:
            d = gt[i]
            rejection = Rejection(
                d['take_uid'], str(d['frame_number']), d['hand'],
                'bad_projection',
                f'the 2D lies {median[i]:.1f} px (median of the valid '
                'joints) from the projection of the 3D through the take\'s '
                f'intrinsics; the benchmark keeps joints within '
                f'{MAX_REPROJECTION_PX:g} px')
            if self.on_bad_record == 'error':
                raise ValueError(rejection.message(self.ann_file))
            rejections.append(rejection)
        dropped = {gt_rows[i] for i in off}
        kept = [d for i, d in enumerate(data_list) if i not in dropped]
        return kept, median[off].tolist()

    def _refuse_whole_file(self, data_list: List[dict],
                           rejections: List[Rejection],
                           off_px: List[float]) -> None:
        """One clear error when most GT hands share a unit or projection
        problem: the file, not some records, is wrong."""
        num_gt = sum(d['has_gt'] for d in data_list)
        kinds = Counter(r.kind for r in rejections)
        if kinds['bad_units'] > num_gt:
            raise ValueError(
                f'{self.ann_file}: in {kinds["bad_units"]} of '
                f'{kinds["bad_units"] + num_gt} hands the distance from the '
                f"wrist to the middle finger's base exceeds {MAX_PALM_M:g} m, "
                'where hands measure ~0.1 m: the 3D coordinates are not in '
                'metres (millimetres?)')
        if kinds['bad_projection'] > num_gt:
            raise ValueError(
                f'{self.ann_file}: the 2D of {kinds["bad_projection"]} of '
                f'{kinds["bad_projection"] + num_gt} hands lies '
                f'{np.median(off_px):.1f} px (median) from the projection of '
                "their 3D through the cameras' intrinsics, where the "
                f'benchmark keeps joints within {MAX_REPROJECTION_PX:g} px: '
                '2D of the portrait view or of another image size, or '
                'camera files of other takes?')

    def _serialize_data(self) -> Tuple[np.ndarray, np.ndarray]:
        # mmengine cannot serialize an empty list (every record rejected);
        # an empty dataset is still useful to the tools that report why.
        if not self.data_list:
            return np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int64)
        return super()._serialize_data()

    def _take_intrinsics(self, take_uid: str) -> np.ndarray:
        camera_dir = self.data_prefix['camera']
        camera_file = osp.join(camera_dir, f'{take_uid}.json')
        if camera_dir and osp.isfile(camera_file):
            return read_intrinsics(camera_file, self.max_file_mb)
        if camera_dir:
            self._takes_without_camera.append(take_uid)
        return default_intrinsics()

    def _sample(self, record: HandRecord, cam_K: np.ndarray) -> dict:
        img_root = self.data_prefix['img']
        # take_name passed is_safe_name, so the path stays under img_root.
        img_path = osp.join(img_root, self.split, record.take_name,
                            f'{record.frame_number:06d}.jpg') if img_root \
            else ''
        return dict(
            img_path=img_path,
            take_uid=record.take_uid,
            take_name=record.take_name,
            frame_number=record.frame_number,
            hand=record.hand,
            is_left=record.hand == 'left',
            bbox=record.bbox,
            keypoints_2d=record.keypoints_2d,
            keypoints_3d=record.keypoints_3d,
            keypoints_valid=record.keypoints_valid,
            has_gt=record.has_gt,
            cam_K=cam_K.copy())

    def _log_summary(self, data_list: List[dict],
                     rejections: List[Rejection],
                     cache_path: Optional[str] = None) -> None:
        logger = MMLogger.get_current_instance()
        hands = Counter(d['hand'] for d in data_list)
        num_gt = sum(d['has_gt'] for d in data_list)
        cached = '' if cache_path is None else (
            f'; checked samples read from {cache_path}')
        logger.info(
            f'{self.ann_file}: {len(data_list)} hands ({hands["right"]} '
            f'right, {hands["left"]} left; {num_gt} with 3D GT, '
            f'{len(data_list) - num_gt} box-only{cached})')
        if self._takes_without_camera:
            logger.warning(
                f'{self.ann_file}: {len(self._takes_without_camera)} takes '
                f'have no camera file in {self.data_prefix["camera"]} (e.g. '
                f'{self._takes_without_camera[0]}.json): the default Aria '
                'intrinsics are used for them')
        if rejections:
            kinds = Counter(r.kind for r in rejections)
            examples = '\n'.join(
                '  ' + r.message(self.ann_file) for r in rejections[:5])
            logger.warning(
                f'{self.ann_file}: rejected {len(rejections)} records '
                f'({dict(kinds.most_common())}); first ones:\n{examples}\n'
                'All are in dataset.rejections.')

    def get_arrays(self) -> Dict[str, object]:
        """All samples' annotations stacked, computed once and cached.

        Returns:
            dict: numpy arrays ``keypoints_2d`` (N, K, 2) px,
            ``keypoints_3d`` (N, K, 3) m, ``keypoints_valid`` (N, K),
            ``bbox`` (N, 4), ``is_left`` (N,), ``has_gt`` (N,),
            ``frame_number`` (N,), ``cam_K`` (N, 3, 3), ``sample_idx`` (N,)
            and lists ``take_uid``, ``take_name``, ``hand``.
        """
        if self._arrays is None:
            self.full_init()  # a lazy_init dataset has no data_list yet
            if self.serialize_data:
                infos = [self.get_data_info(i) for i in range(len(self))]
            else:
                # read only, so no per-sample deep copy (get_data_info's)
                infos = self.data_list
            self._arrays = _stack(infos)
            self._arrays['sample_idx'] = np.arange(len(infos),
                                                   dtype=np.int64)
        return self._arrays


__all__ = ['EgoExo4DHandDataset', 'read_intrinsics']
