"""COCO-format 2D hand keypoints as hp3d samples (design §1), e.g. to lift.

Note:
    K: joints (21).
"""
import os.path as osp
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import load
from mmengine.logging import MMLogger

from hp3d.registry import DATASETS

from .camera import default_intrinsics
from .metainfo import HAND_METAINFO, HANDS, NUM_JOINTS

# COCO-WholeBody keeps both hands inside a person annotation, under these
# key prefixes (``{prefix}_kpts``, ``_box``, ``_valid``).
WHOLEBODY_HAND_PREFIXES = dict(right='righthand', left='lefthand')


@DATASETS.register_module()
class CocoHandDataset(BaseDataset):
    """Hands of a COCO keypoint file, one sample per hand.

    Reads two layouts, both with the 21 joints in hp3d's order (wrist, then
    thumb, index, middle, ring, pinky, base to tip; COCO-WholeBody's hand
    order):

    - one annotation per hand: ``keypoints`` (21 x ``[x, y, v]``) and
      ``bbox`` (xywh), as written by
      ``tools/dataset_converters/egoexo4d_to_coco.py``, OneHand10K or a hand
      detector's results put into an annotation file;
    - COCO-WholeBody person annotations: ``lefthand_kpts``/``righthand_kpts``
      with ``*_box`` and ``*_valid`` (hands with a false ``*_valid`` are
      skipped).

    A joint is valid when ``v > 0``; invalid joints get NaN 2D. The hand
    side is the annotation's ``hand_side`` (COCO-WholeBody: its key), else
    ``default_hand``. ``cam_K`` is the image's ``camera_intrinsics`` when
    present, else :func:`~hp3d.datasets.camera.default_intrinsics`. There is
    no 3D ground truth: ``has_gt`` is False and ``keypoints_3d`` is NaN.
    ``take_uid``, ``take_name`` and ``frame_number`` come from the
    annotation or image when present (exported Ego-Exo4D files), else ''
    and the image id. Crowd annotations are skipped.

    Args:
        ann_file (str): COCO json, relative to ``data_root`` unless absolute.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
            Defaults to ''.
        data_prefix (dict, optional): ``img``: root of the images'
            ``file_name`` ('' for none: ``img_path`` is then '').
            Defaults to ``dict(img='')``.
        default_hand (str): ``'right'`` or ``'left'``, for annotations that
            do not say. Defaults to ``'right'``.
        min_keypoints (int): Skip hands with fewer valid joints.
            Defaults to 0 (keep box-only hands).
        pipeline (Sequence[dict | Callable]): Data transforms.
        test_mode (bool): mmengine's test mode flag.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO: dict = HAND_METAINFO

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 default_hand: str = 'right',
                 min_keypoints: int = 0,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        if default_hand not in HANDS:
            raise ValueError(f'default_hand must be one of {HANDS}, got '
                             f'{default_hand!r}')
        self.default_hand = default_hand
        self.min_keypoints = min_keypoints
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix={'img': '', **(data_prefix or {})},
            pipeline=list(pipeline),
            test_mode=test_mode,
            **kwargs)

    def _join_prefix(self) -> None:
        # An empty image prefix means "no images"; mmengine would turn it
        # into data_root itself.
        unset = [key for key, prefix in self.data_prefix.items() if not prefix]
        super()._join_prefix()
        self.data_prefix.update({key: '' for key in unset})

    def load_data_list(self) -> List[dict]:
        """Read the COCO file: one sample per (non-crowd) hand."""
        coco = load(self.ann_file, file_format='json')
        if not isinstance(coco, dict) or not isinstance(
                coco.get('annotations'), list) or not isinstance(
                    coco.get('images'), list):
            raise ValueError(f'{self.ann_file}: not a COCO annotation file '
                             '(an object with "images" and "annotations" '
                             'lists)')
        images = {img['id']: img for img in coco['images']}
        data_list = []
        for ann in coco['annotations']:
            if ann.get('iscrowd', 0):
                continue
            image = images.get(ann.get('image_id'))
            if image is None:
                raise ValueError(f'{self.ann_file}: annotation {ann.get("id")}'
                                 f' refers to unknown image '
                                 f'{ann.get("image_id")!r}')
            for hand, keypoints, bbox_xywh in self._hands(ann):
                sample = self._sample(ann, image, hand, keypoints, bbox_xywh)
                if sample['keypoints_valid'].sum() >= self.min_keypoints:
                    data_list.append(sample)
        if not data_list:
            raise ValueError(
                f'{self.ann_file}: no hand to load ({len(coco["annotations"])}'
                f' annotations, {len(coco["images"])} images, min_keypoints='
                f'{self.min_keypoints})')
        MMLogger.get_current_instance().info(
            f'{self.ann_file}: {len(data_list)} hands from '
            f'{len(coco["images"])} images')
        return data_list

    def _hands(self, ann: dict) -> Iterator[Tuple[str, list, list]]:
        """``(hand, keypoints, bbox_xywh)`` of each hand in an annotation."""
        if any(f'{p}_kpts' in ann for p in WHOLEBODY_HAND_PREFIXES.values()):
            for hand, prefix in WHOLEBODY_HAND_PREFIXES.items():
                if ann.get(f'{prefix}_valid', False):
                    yield hand, ann[f'{prefix}_kpts'], ann[f'{prefix}_box']
            return
        hand = ann.get('hand_side', self.default_hand)
        if hand not in HANDS:
            raise ValueError(f'{self.ann_file}: annotation {ann.get("id")} '
                             f'has hand_side {hand!r}, expected one of {HANDS}')
        if 'keypoints' not in ann or 'bbox' not in ann:
            raise ValueError(f'{self.ann_file}: annotation {ann.get("id")} '
                             'lacks "keypoints" or "bbox"')
        yield hand, ann['keypoints'], ann['bbox']

    def _sample(self, ann: dict, image: dict, hand: str, keypoints: list,
                bbox_xywh: list) -> dict:
        where = f'{self.ann_file}: annotation {ann.get("id")} ({hand} hand)'
        xyv = np.asarray(keypoints, dtype=np.float64)
        if xyv.size != NUM_JOINTS * 3:
            raise ValueError(f'{where}: {xyv.size} keypoint values, expected '
                             f'{NUM_JOINTS} x [x, y, v]')
        xyv = xyv.reshape(NUM_JOINTS, 3)
        valid = xyv[:, 2] > 0
        keypoints_2d = np.where(valid[:, None], xyv[:, :2], np.nan)
        x, y, w, h = self._bbox(bbox_xywh, where)
        cam_K = image.get('camera_intrinsics')
        if cam_K is None:
            cam_K = default_intrinsics()
        cam_K = np.asarray(cam_K, dtype=np.float32)
        if cam_K.shape != (3, 3) or not np.isfinite(cam_K).all():
            raise ValueError(f'{self.ann_file}: image {image["id"]} has '
                             'camera_intrinsics that are not a finite 3x3 '
                             'matrix')
        img_root = self.data_prefix['img']
        return dict(
            img_path=osp.join(img_root, image['file_name']) if img_root
            else '',
            img_id=image['id'],
            take_uid=str(ann.get('take_uid', image.get('take_uid', ''))),
            take_name=str(image.get('take_name', '')),
            frame_number=int(ann.get('frame_number',
                                     image.get('frame_number', image['id']))),
            hand=hand,
            is_left=hand == 'left',
            bbox=np.array([x, y, x + w, y + h], dtype=np.float32),
            keypoints_2d=keypoints_2d.astype(np.float32),
            keypoints_3d=np.full((NUM_JOINTS, 3), np.nan, dtype=np.float32),
            keypoints_valid=valid,
            has_gt=False,
            cam_K=cam_K)

    @staticmethod
    def _bbox(bbox_xywh: list, where: str) -> np.ndarray:
        bbox = np.asarray(bbox_xywh, dtype=np.float64)
        if (bbox.shape != (4, ) or not np.isfinite(bbox).all()
                or (bbox[2:] < 0).any()):
            raise ValueError(f'{where}: bbox must be a finite [x, y, w, h] '
                             f'with w, h >= 0, got {bbox_xywh!r}')
        return bbox

    def get_arrays(self) -> Dict[str, object]:
        """All samples stacked, as ``EgoExo4DHandDataset.get_arrays`` (so
        ``LiftingTensorDataset`` and the inferencers take this dataset).

        Returns:
            dict: numpy arrays with a leading (N,) axis (``keypoints_2d``
            (N, K, 2) px, ``keypoints_valid`` (N, K), ``bbox`` (N, 4),
            ``cam_K`` (N, 3, 3), ``sample_idx`` (N,), ...) and lists for
            the string fields (``take_uid``, ``take_name``, ``hand``,
            ``img_path``).
        """
        infos = [self.get_data_info(i) for i in range(len(self))]
        if not infos:
            raise ValueError(f'{self.ann_file}: no hands to stack')
        return {
            key: ([info[key] for info in infos]
                  if isinstance(infos[0][key], str) else
                  np.stack([np.asarray(info[key]) for info in infos]))
            for key in infos[0]
        }

__all__ = ['CocoHandDataset', 'WHOLEBODY_HAND_PREFIXES']
