"""check_dataset: no loop runs on an empty split, no training without 3D GT."""
import json

import pytest
from mmengine.dataset import ConcatDataset
from torch.utils.data import DataLoader

from hp3d.codecs import LiftingCodec
from hp3d.datasets import EgoExo4DHandDataset, LiftingTensorDataset
from hp3d.datasets.transforms import LoadImage
from hp3d.engine.data_check import check_dataset

ANN = 'annotations/ego_pose_gt_anno_val_public.json'
BOXES = 'annotations/boxes/ego_pose_gt_anno_test_public.json'


def _dataset(path, **kwargs):
    return EgoExo4DHandDataset(str(path), data_prefix=dict(img=''),
                               **kwargs)


def test_split_with_gt_passes(synthetic_root):
    data = LiftingTensorDataset(_dataset(synthetic_root / ANN), LiftingCodec())
    check_dataset(DataLoader(data), 'train_dataloader', training=True)


def test_all_records_rejected_is_refused_naming_file_and_kinds(
        synthetic_root, tmp_path):
    anno = json.loads((synthetic_root / ANN).read_text())
    for frames in anno.values():
        for frame in frames.values():
            for hand in ('left', 'right'):
                if frame[f'{hand}_hand_3d']:
                    # flags written as 0/1: each record is rejected
                    frame[f'{hand}_hand_valid_3d'] = [
                        int(v) for v in frame[f'{hand}_hand_valid_3d']]
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text(json.dumps(anno))
    data = _dataset(path)
    num_hands = len(_dataset(synthetic_root / ANN))
    assert len(data) == 0 and len(data.rejections) == num_hands
    for training in (True, False):
        with pytest.raises(ValueError, match=(
                rf'val_dataloader: {path} holds no usable hand; {num_hands} '
                r"records were rejected \({'wrong_type': ")):
            check_dataset(DataLoader(data), 'val_dataloader', training)


def test_training_on_a_box_only_file_is_refused(synthetic_root):
    boxes = _dataset(synthetic_root / BOXES, test_mode=True)
    # testing on it is what it is for
    check_dataset(DataLoader(boxes), 'test_dataloader', training=False)
    with pytest.raises(ValueError, match=rf'none of the {len(boxes)} hands '
                       rf'of {synthetic_root / BOXES} has 3D ground truth'):
        check_dataset(DataLoader(boxes), 'train_dataloader', training=True)
    # one file with GT in a concatenation is enough
    both = ConcatDataset([boxes, _dataset(synthetic_root / ANN)])
    check_dataset(DataLoader(both), 'train_dataloader', training=True)


def test_missing_image_directory_is_named(synthetic_root, tmp_path):
    load = [LoadImage()]
    with_images = EgoExo4DHandDataset(
        ANN, data_root=str(synthetic_root), data_prefix=dict(img='images'),
        pipeline=load, serialize_data=False)
    check_dataset(DataLoader(with_images), 'val_dataloader', training=False)
    moved = EgoExo4DHandDataset(
        str(synthetic_root / ANN), data_prefix=dict(img=str(tmp_path / 'no')),
        pipeline=load, serialize_data=False)
    with pytest.raises(FileNotFoundError, match=(
            rf"val_dataloader: the image directory {tmp_path / 'no'} of "
            rf'{synthetic_root / ANN} does not exist')):
        check_dataset(DataLoader(moved), 'val_dataloader', training=False)
    # the lifting path reads no image: annotation-only data needs no folder
    lifting = LiftingTensorDataset(EgoExo4DHandDataset(
        str(synthetic_root / ANN), data_prefix=dict(img=str(tmp_path / 'no')),
        serialize_data=False), LiftingCodec())
    check_dataset(DataLoader(lifting), 'train_dataloader', training=True)
