"""Hand samples as a COCO keypoint file (xtcocotools / mmpose compatible).

One COCO image per frame, one annotation per hand. Besides the standard
fields, images carry ``take_uid``, ``take_name``, ``frame_number`` and
``camera_intrinsics`` (3 x 3) and annotations carry ``hand_side``,
``take_uid`` and ``frame_number``, so :class:`~hp3d.datasets.CocoHandDataset`
reads an exported file back into the same samples.

Note:
    K: joints (21).
"""
import os.path as osp
from typing import Dict, Iterable, List, Optional

import numpy as np

from .camera import IMAGE_SIZE_PX
from .egoexo4d import EgoExo4DHandDataset
from .metainfo import JOINT_NAMES, MIN_VALID_JOINTS, NUM_JOINTS, SKELETON

HAND_CATEGORY_ID = 1
# COCO's visibility flag of a labelled joint ("labelled and visible"); the
# Ego-Exo4D files do not say whether a joint is occluded.
LABELLED = 2


def hand_category() -> dict:
    """The COCO ``categories`` entry of the 21-joint hand.

    Returns:
        dict: ``id``, ``name``, ``supercategory``, ``keypoints`` (joint
        names) and ``skeleton`` (1-based joint pairs, COCO's convention).
    """
    return dict(id=HAND_CATEGORY_ID, name='hand', supercategory='hand',
                keypoints=list(JOINT_NAMES),
                skeleton=[[a + 1, b + 1] for a, b in SKELETON])


def bbox_xyxy_to_xywh(bbox_xyxy: np.ndarray) -> np.ndarray:
    """(..., 4) boxes from corners ``x1, y1, x2, y2`` to ``x, y, w, h``."""
    bbox_xyxy = np.asarray(bbox_xyxy, dtype=np.float64)
    return np.concatenate(
        [bbox_xyxy[..., :2], bbox_xyxy[..., 2:] - bbox_xyxy[..., :2]],
        axis=-1)


def hand_annotation(sample: dict, ann_id: int, image_id: int) -> dict:
    """The COCO annotation of one hand sample (design §1 keys).

    A joint is labelled (``v = 2``) when it is valid and has finite 2D;
    otherwise it is written ``0, 0, 0``. (A valid wrist whose 2D is missing,
    which the official files allow, is therefore unlabelled in COCO.)

    Args:
        sample (dict): ``bbox`` (4,) xyxy px, ``keypoints_2d`` (K, 2) px,
            ``keypoints_valid`` (K,), ``hand``, ``take_uid``,
            ``frame_number``.
        ann_id (int): Annotation id (COCO ids start at 1).
        image_id (int): Id of the frame's image.

    Returns:
        dict: The annotation, JSON-serialisable (no NaN).
    """
    where = (f'take {sample["take_uid"]!r}, frame {sample["frame_number"]}, '
             f'{sample["hand"]} hand')
    bbox = np.asarray(sample['bbox'], dtype=np.float64)
    if (bbox.shape != (4, ) or not np.isfinite(bbox).all()
            or bbox[2] < bbox[0] or bbox[3] < bbox[1]):
        raise ValueError(f'{where}: bbox must be a finite xyxy box, got '
                         f'{bbox.tolist()}')
    kpts = np.asarray(sample['keypoints_2d'], dtype=np.float64)
    if kpts.shape != (NUM_JOINTS, 2):
        raise ValueError(f'{where}: keypoints_2d must be ({NUM_JOINTS}, 2), '
                         f'got {kpts.shape}')
    labelled = (np.asarray(sample['keypoints_valid'], dtype=bool)
                & np.isfinite(kpts).all(axis=1))
    xyv = np.zeros((NUM_JOINTS, 3))
    xyv[labelled, :2] = kpts[labelled]
    xyv[labelled, 2] = LABELLED
    x, y, w, h = (float(v) for v in bbox_xyxy_to_xywh(bbox))
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=HAND_CATEGORY_ID,
        iscrowd=0,
        keypoints=[float(v) for v in xyv.ravel()],
        num_keypoints=int(labelled.sum()),
        bbox=[x, y, w, h],
        area=w * h,
        hand_side=str(sample['hand']),
        take_uid=str(sample['take_uid']),
        frame_number=int(sample['frame_number']))


def hands_to_coco(samples: Iterable[dict], img_prefix: str = '') -> dict:
    """Build a COCO keypoint dict from hand samples (design §1 keys).

    Frames are identified by ``(take_uid, frame_number)``; image and
    annotation ids count from 1 in the order the samples come.

    Args:
        samples (Iterable[dict]): Hand samples, e.g. an
            :class:`EgoExo4DHandDataset`'s ``get_data_info(i)``; they need
            ``take_name`` and ``cam_K`` (3, 3) besides
            :func:`hand_annotation`'s keys.
        img_prefix (str): Prepended to each image's
            ``{take_name}/{frame_number:06d}.jpg``. Defaults to ''.

    Returns:
        dict: ``images``, ``annotations``, ``categories``.
    """
    images: List[dict] = []
    annotations: List[dict] = []
    image_ids: Dict[tuple, int] = {}
    for sample in samples:
        frame = (sample['take_uid'], int(sample['frame_number']))
        if frame not in image_ids:
            image_ids[frame] = len(images) + 1
            file_name = f'{sample["take_name"]}/{frame[1]:06d}.jpg'
            images.append(dict(
                id=image_ids[frame],
                file_name=osp.join(img_prefix, file_name) if img_prefix
                else file_name,
                width=IMAGE_SIZE_PX,
                height=IMAGE_SIZE_PX,
                take_uid=str(frame[0]),
                take_name=str(sample['take_name']),
                frame_number=frame[1],
                camera_intrinsics=np.asarray(
                    sample['cam_K'], dtype=np.float64).tolist()))
        annotations.append(hand_annotation(
            sample, ann_id=len(annotations) + 1, image_id=image_ids[frame]))
    return dict(images=images, annotations=annotations,
                categories=[hand_category()])


def egoexo4d_to_coco(ann_file: str,
                     img_prefix: str = '',
                     camera_dir: str = '',
                     split: Optional[str] = None,
                     min_valid_joints: int = MIN_VALID_JOINTS,
                     on_bad_record: str = 'skip') -> dict:
    """Export the hands of an official Ego-Exo4D annotation file as COCO.

    The file is read by :class:`EgoExo4DHandDataset` (same validation, same
    hands; unannotated hands are skipped). Box-only files give annotations
    with boxes and no labelled joints.

    Args:
        ann_file (str): ``ego_pose_gt_anno_{split}[_public].json``.
        img_prefix (str): Prefix of the image file names; ``{split}`` in it
            becomes the split. Defaults to ''.
        camera_dir (str): Directory of per-take ``{take_uid}.json`` camera
            files for ``camera_intrinsics`` ('' for the default camera).
        split (str, optional): The split, when the file name lacks it.
        min_valid_joints (int): Drop GT hands with fewer valid joints.
        on_bad_record (str): ``'skip'`` or ``'error'`` (see the dataset).

    Returns:
        dict: The COCO keypoint dict (see :func:`hands_to_coco`).
    """
    dataset = EgoExo4DHandDataset(
        ann_file=ann_file,
        data_prefix=dict(img='', camera=camera_dir),
        split=split,
        min_valid_joints=min_valid_joints,
        on_bad_record=on_bad_record,
        serialize_data=False)
    samples = (dataset.get_data_info(i) for i in range(len(dataset)))
    return hands_to_coco(samples, img_prefix.format(split=dataset.split))


__all__ = [
    'HAND_CATEGORY_ID', 'hand_category', 'bbox_xyxy_to_xywh',
    'hand_annotation', 'hands_to_coco', 'egoexo4d_to_coco'
]
