import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from xtcocotools.coco import COCO

from hp3d.datasets.camera import default_intrinsics, project
from hp3d.datasets.metainfo import JOINT_NAMES, SKELETON

TOOL = str(Path(__file__).parents[2] / 'tools' / 'dataset_converters' /
           'egoexo4d_to_coco.py')
NAN = float('nan')


def official_hand(seed, invalid=(), wrist_2d_missing=False):
    """Official-format fields of one hand: 3D/2D with NaN at ``invalid``."""
    rng = np.random.default_rng(seed)
    kpts_3d = np.array([0.02, 0.05, 0.4]) + rng.uniform(-0.04, 0.04, (21, 3))
    kpts_2d = project(kpts_3d, default_intrinsics())
    valid = np.ones(21, bool)
    valid[list(invalid)] = False
    kpts_3d[list(invalid)] = NAN
    kpts_2d[list(invalid)] = NAN
    if wrist_2d_missing:
        kpts_2d[0] = NAN
    box = [float(v) for v in np.r_[np.nanmin(kpts_2d, 0) - 20,
                                   np.nanmax(kpts_2d, 0) + 20]]
    return dict(hand_3d=kpts_3d.tolist(), hand_2d=kpts_2d.tolist(),
                hand_bbox=box, hand_valid_3d=valid.tolist())


def frame(take_uid, take_name, number, right=None, left=None):
    out = dict(metadata=dict(take_uid=take_uid, take_name=take_name,
                             frame_number=number))
    for side, hand in (('right', right), ('left', left)):
        for key in ('hand_3d', 'hand_2d', 'hand_bbox', 'hand_valid_3d'):
            out[f'{side}_{key}'] = [] if hand is None else hand[key]
    return out


@pytest.fixture
def official_file(tmp_path):
    """Two takes, three frames, four hands (one absent right hand)."""
    anno = {
        'take-a': {
            '10': frame('take-a', 'cook_1', 10, right=official_hand(0),
                        left=official_hand(1, invalid=(3, 7))),
            '13': frame('take-a', 'cook_1', 13,
                        left=official_hand(2, wrist_2d_missing=True)),
        },
        'take-b': {'5': frame('take-b', 'bike_2', 5, right=official_hand(3))},
    }
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text(json.dumps(anno))  # bare NaN tokens, as the real files
    return path, anno


def run_tool(monkeypatch, *args):
    monkeypatch.setattr(sys, 'argv', [TOOL, *map(str, args)])
    runpy.run_path(TOOL, run_name='__main__')


def strict_json(path):
    def refuse(token):
        raise ValueError(f'non-standard JSON token {token}')
    return json.loads(Path(path).read_text(), parse_constant=refuse)


def test_export_fields(official_file, tmp_path, monkeypatch):
    ann_file, anno = official_file
    out = tmp_path / 'out' / 'coco.json'
    run_tool(monkeypatch, ann_file, out)
    coco = strict_json(out)

    assert [(i['id'], i['file_name'], i['width'], i['height'])
            for i in coco['images']] == [
                (1, 'cook_1/000010.jpg', 512, 512),
                (2, 'cook_1/000013.jpg', 512, 512),
                (3, 'bike_2/000005.jpg', 512, 512)]
    anns = coco['annotations']
    assert [(a['id'], a['image_id'], a['hand_side'], a['take_uid'],
             a['frame_number']) for a in anns] == [
                 (1, 1, 'right', 'take-a', 10), (2, 1, 'left', 'take-a', 10),
                 (3, 2, 'left', 'take-a', 13), (4, 3, 'right', 'take-b', 5)]
    for ann, (take, frame_key, side) in zip(
            anns, [('take-a', '10', 'right'), ('take-a', '10', 'left'),
                   ('take-a', '13', 'left'), ('take-b', '5', 'right')]):
        src = anno[take][frame_key]
        x1, y1, x2, y2 = src[f'{side}_hand_bbox']
        np.testing.assert_allclose(ann['bbox'], [x1, y1, x2 - x1, y2 - y1],
                                   rtol=1e-6)
        assert ann['area'] == pytest.approx((x2 - x1) * (y2 - y1), rel=1e-6)
        assert ann['category_id'] == 1 and ann['iscrowd'] == 0
        xyv = np.array(ann['keypoints']).reshape(21, 3)
        src_2d = np.array(src[f'{side}_hand_2d'], dtype=float)
        labelled = np.isfinite(src_2d).all(1)
        np.testing.assert_allclose(xyv[labelled, :2], src_2d[labelled],
                                   rtol=1e-6)
        assert (xyv[labelled, 2] == 2).all()
        assert (xyv[~labelled] == 0).all()
        assert ann['num_keypoints'] == labelled.sum()
    # NaN joints 3 and 7 of the left hand, and the missing 2D wrist, are v=0.
    assert [a['num_keypoints'] for a in anns] == [21, 19, 20, 21]
    assert np.array(anns[1]['keypoints']).reshape(21, 3)[[3, 7]].sum() == 0
    assert coco['images'][0]['camera_intrinsics'] == \
        default_intrinsics().tolist()

    cat, = coco['categories']
    assert cat['id'] == 1 and cat['name'] == 'hand'
    assert cat['keypoints'] == list(JOINT_NAMES)
    assert cat['skeleton'][0] == [1, 2]  # wrist -> thumb_1, 1-based
    assert cat['skeleton'] == [[a + 1, b + 1] for a, b in SKELETON]


def test_loads_with_xtcocotools(official_file, tmp_path, monkeypatch):
    ann_file, _ = official_file
    out = tmp_path / 'coco.json'
    run_tool(monkeypatch, ann_file, out, '--img-prefix', 'images/{split}')
    coco = COCO(str(out))
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    assert sorted(coco.getAnnIds(imgIds=[1])) == [1, 2]
    assert coco.getAnnIds(imgIds=[3]) == [4]
    assert coco.getCatIds() == [1]
    img, = coco.loadImgs([2])
    assert img['file_name'] == 'images/val/cook_1/000013.jpg'
    for ann in coco.loadAnns(coco.getAnnIds()):
        frame_img = coco.imgs[ann['image_id']]
        assert frame_img['take_uid'] == ann['take_uid']
        assert frame_img['frame_number'] == ann['frame_number']


def test_box_only_file(tmp_path, monkeypatch):
    """The public test file's layout: boxes and metadata only."""
    meta = dict(take_uid='t', take_name='tn', frame_number=7)
    anno = {'t': {'7': dict(right_hand_bbox=[], metadata=meta,
                            left_hand_bbox=[10.0, 20.0, 110.0, 170.0])}}
    ann_file = tmp_path / 'ego_pose_gt_anno_test_public.json'
    ann_file.write_text(json.dumps(anno))
    out = tmp_path / 'coco.json'
    run_tool(monkeypatch, ann_file, out)
    ann, = strict_json(out)['annotations']
    assert ann['hand_side'] == 'left'
    assert ann['bbox'] == [10.0, 20.0, 100.0, 150.0]
    assert ann['area'] == 15000.0
    assert ann['num_keypoints'] == 0 and not any(ann['keypoints'])
    assert not math.isnan(sum(ann['keypoints']))


def test_strict_stops_at_a_bad_record(official_file, tmp_path, monkeypatch):
    ann_file, anno = official_file
    anno['take-b']['5']['right_hand_bbox'] = [50.0, 50.0, 40.0, 60.0]
    ann_file.write_text(json.dumps(anno))
    out = tmp_path / 'coco.json'
    run_tool(monkeypatch, ann_file, out)
    assert len(strict_json(out)['annotations']) == 3  # skipped by default
    with pytest.raises(ValueError, match="take 'take-b', frame '5'"):
        run_tool(monkeypatch, ann_file, out, '--strict')
