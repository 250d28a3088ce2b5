"""tools/infer.py on a tiny official annotation file."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from hp3d.apis import Hand3DInferencer, init_model
from hp3d.apis.model_index import REPO_ROOT
from hp3d.datasets.camera import default_intrinsics, project

LIFTING_CONFIG = REPO_ROOT / 'configs' / 'pose_transformer_egoexo.py'
TINY_POTTER_CONFIG = REPO_ROOT / 'tests' / 'test_apis' / 'data' / (
    'tiny_potter.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'hp3d_tools_infer', REPO_ROOT / 'tools' / 'infer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _gt_hand(seed: int, invalid: int) -> dict:
    rng = np.random.default_rng(seed)
    wrist_m = np.array([0.03 * seed - 0.02, 0.05, 0.35 + 0.02 * seed])
    joints_m = wrist_m + rng.uniform(-0.06, 0.08, (21, 3))
    joints_m[0] = wrist_m
    joints_px = project(joints_m, default_intrinsics())
    valid = np.ones(21, bool)
    valid[invalid] = False
    joints_m[invalid] = np.nan
    joints_px[invalid] = np.nan
    finite = joints_px[valid]
    bbox = np.concatenate([finite.min(0) - 10, finite.max(0) + 10])
    return dict(joints_3d=joints_m.tolist(), joints_2d=joints_px.tolist(),
                valid=valid.tolist(), bbox=bbox.tolist())


def _frame(take_uid: str, frame: int, hands: dict) -> dict:
    entry = dict(metadata=dict(take_uid=take_uid, take_name='cooking_01',
                               frame_number=frame))
    for hand in ('right', 'left'):
        gt = hands.get(hand)
        entry.update({
            f'{hand}_hand_3d': gt['joints_3d'] if gt else [],
            f'{hand}_hand_2d': gt['joints_2d'] if gt else [],
            f'{hand}_hand_bbox': gt['bbox'] if gt else [],
            f'{hand}_hand_valid_3d': gt['valid'] if gt else [],
        })
    return entry


@pytest.fixture
def ann_file(tmp_path) -> Path:
    """Two frames of one take: both hands, then the right hand only."""
    hands = {(10, 'right'): _gt_hand(1, 5), (10, 'left'): _gt_hand(2, 9),
             (11, 'right'): _gt_hand(3, 13)}
    anno = {'uid_a': {
        str(f): _frame('uid_a', f, {h: hands[(f2, h)] for f2, h in hands
                                    if f2 == f})
        for f in (10, 11)}}
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    # the official files write invalid joints as bare NaN tokens
    path.write_text(json.dumps(anno))
    return path


def _random_checkpoint(config: Path, path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = init_model(Config.fromfile(str(config)))
    torch.save({'state_dict': model.state_dict()}, path)
    return path


@pytest.fixture
def lifting_ckpt(tmp_path) -> Path:
    return _random_checkpoint(LIFTING_CONFIG, tmp_path / 'lifting.pth', 7)


@pytest.fixture
def potter_ckpt(tmp_path) -> Path:
    return _random_checkpoint(TINY_POTTER_CONFIG, tmp_path / 'potter.pth', 8)


def _write_image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.resize(
        rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (512, 512)))
    return path


def test_lifting_on_a_gt_file_writes_the_official_format(
        ann_file, lifting_ckpt, tmp_path):
    out = tmp_path / 'out' / 'preds.json'
    code = _load_tool().main([
        str(LIFTING_CONFIG), str(lifting_ckpt), '', '--ann-file',
        str(ann_file), '--out', str(out), '--batch-size', '2'
    ])
    assert code == 0
    preds = json.loads(out.read_text())
    assert list(preds) == ['uid_a']
    assert sorted(preds['uid_a']) == ['10', '11']
    for frame in preds['uid_a'].values():
        assert sorted(frame) == ['left_hand_3d', 'right_hand_3d']
    assert preds['uid_a']['11']['left_hand_3d'] == []

    # GT hands are written in camera metres: the prediction at the GT wrist
    anno = json.loads(ann_file.read_text())
    inferencer = Hand3DInferencer(str(LIFTING_CONFIG), str(lifting_ckpt))
    for frame, hand in (('10', 'right'), ('10', 'left'), ('11', 'right')):
        gt = anno['uid_a'][frame]
        keypoints = np.array(gt[f'{hand}_hand_2d'], dtype=np.float64)
        rel_mm = inferencer(keypoints, gt[f'{hand}_hand_valid_3d'],
                            hands=hand)['predictions'][0][
                                'keypoints_3d_rel_mm']
        wrist_m = np.array(gt[f'{hand}_hand_3d'][0])
        written = np.array(preds['uid_a'][frame][f'{hand}_hand_3d'])
        assert written.shape == (21, 3)
        np.testing.assert_allclose(written, rel_mm / 1000.0 + wrist_m,
                                   atol=1e-6)


def test_lifting_needs_2d_keypoints(lifting_ckpt, tmp_path):
    image = tmp_path / 'frame.jpg'
    image.write_bytes(b'')
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps(
        {'frame.jpg': [dict(bbox=[10, 10, 90, 90], hand='left')]}))
    with pytest.raises(ValueError, match='lifts 2D keypoints'):
        _load_tool().main([
            str(LIFTING_CONFIG), str(lifting_ckpt), str(image), '--boxes',
            str(boxes), '--out', str(tmp_path / 'preds.json')
        ])


def test_output_is_required(lifting_ckpt, ann_file):
    with pytest.raises(SystemExit):
        _load_tool().main([str(LIFTING_CONFIG), str(lifting_ckpt), '',
                           '--ann-file', str(ann_file)])


def test_potter_on_a_box_only_file(potter_ckpt, tmp_path):
    """The public test file's layout: boxes and metadata only."""
    boxes = {('uid_b', 3): dict(right=[100, 120, 200, 230],
                                left=[260, 100, 380, 240]),
             ('uid_b', 4): dict(left=[250, 110, 370, 250])}
    anno = {'uid_b': {}}
    for (take_uid, frame), hands in boxes.items():
        entry = dict(metadata=dict(take_uid=take_uid, take_name='bike_02',
                                   frame_number=frame))
        for hand in ('right', 'left'):
            entry[f'{hand}_hand_bbox'] = hands.get(hand, [])
        anno[take_uid][str(frame)] = entry
        _write_image(tmp_path / 'images' / 'test' / 'bike_02' /
                     f'{frame:06d}.jpg', frame)
    ann_file = tmp_path / 'ego_pose_gt_anno_test_public.json'
    ann_file.write_text(json.dumps(anno))

    out_dir = tmp_path / 'out'
    code = _load_tool().main([
        str(TINY_POTTER_CONFIG), str(potter_ckpt), str(tmp_path / 'images'),
        '--ann-file', str(ann_file), '--out-dir', str(out_dir), '--vis',
        '--batch-size', '2'
    ])
    assert code == 0
    preds = json.loads((out_dir / 'predictions.json').read_text())
    assert preds['uid_b']['4']['right_hand_3d'] == []
    # box-only hands are written wrist-relative, in metres
    inferencer = Hand3DInferencer(str(TINY_POTTER_CONFIG), str(potter_ckpt))
    for (take_uid, frame), hands in boxes.items():
        image = (tmp_path / 'images' / 'test' / 'bike_02' /
                 f'{frame:06d}.jpg')
        out = inferencer(str(image), list(hands.values()), list(hands))
        for pred in out['predictions']:
            written = preds[take_uid][str(frame)][f'{pred["hand"]}_hand_3d']
            np.testing.assert_allclose(
                written, pred['keypoints_3d_rel_mm'] / 1000.0, atol=1e-6)
    assert sorted(p.name for p in (out_dir / 'vis').iterdir()) == [
        'uid_b_000003_left.png', 'uid_b_000003_right.png',
        'uid_b_000004_left.png'
    ]


def test_potter_on_a_folder_with_boxes(potter_ckpt, tmp_path):
    frames = tmp_path / 'frames'
    for i in range(3):
        _write_image(frames / f'{i:06d}.png', i)
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({
        '000000.png': [dict(bbox=[10, 20, 110, 140], hand='left'),
                       dict(bbox=[200, 220, 300, 330], hand='right')],
        '000002.png': [dict(bbox=[50, 60, 150, 180], hand='right')],
    }))
    out = tmp_path / 'preds.json'
    assert _load_tool().main([
        str(TINY_POTTER_CONFIG), str(potter_ckpt), str(frames), '--boxes',
        str(boxes), '--out', str(out)
    ]) == 0
    preds = json.loads(out.read_text())
    # images without take ids: the file stem, frame 0
    assert sorted(preds) == ['000000', '000002']
    assert preds['000002']['0']['left_hand_3d'] == []
    assert np.array(preds['000000']['0']['left_hand_3d']).shape == (21, 3)

    # one image of the folder
    single = tmp_path / 'single.json'
    assert _load_tool().main([
        str(TINY_POTTER_CONFIG), str(potter_ckpt), str(frames / '000002.png'),
        '--boxes', str(boxes), '--out', str(single)
    ]) == 0
    single = json.loads(single.read_text())
    assert list(single) == ['000002']
    assert single['000002']['0']['left_hand_3d'] == []
    # another batch composition: equal up to float rounding
    np.testing.assert_allclose(single['000002']['0']['right_hand_3d'],
                               preds['000002']['0']['right_hand_3d'],
                               atol=1e-6)


def test_images_sharing_a_file_stem_are_refused(potter_ckpt, tmp_path):
    # per-take folders of 000000.jpg...: the stem would be both take ids
    for take in ('a', 'b'):
        _write_image(tmp_path / take / '000001.png', 0)
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({
        f'{take}/000001.png': [dict(bbox=[10, 20, 110, 140], hand='left')]
        for take in ('a', 'b')}))
    with pytest.raises(ValueError, match=r"\['a/000001.png', "
                       r"'b/000001.png'\] share a file name stem"):
        _load_tool().main([
            str(TINY_POTTER_CONFIG), str(potter_ckpt), str(tmp_path),
            '--boxes', str(boxes), '--out', str(tmp_path / 'p.json')
        ])


def test_two_boxes_of_one_hand_in_a_frame_are_refused(potter_ckpt,
                                                      tmp_path):
    _write_image(tmp_path / 'a.png', 0)
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'a.png': [
        dict(bbox=[10, 20, 110, 140], hand='left'),
        dict(bbox=[200, 220, 300, 330], hand='left')]}))
    with pytest.raises(ValueError, match='several'):
        _load_tool().main([
            str(TINY_POTTER_CONFIG), str(potter_ckpt), str(tmp_path / 'a.png'),
            '--boxes', str(boxes), '--out', str(tmp_path / 'p.json')
        ])


def test_unparsable_boxes_file_is_named(tmp_path):
    boxes = tmp_path / 'boxes.json'
    boxes.write_text('{"a.png": [{"bbox": [10, 20, 110')
    with pytest.raises(ValueError, match=rf'{boxes}: invalid JSON at line 1'):
        _load_tool().read_boxes(str(boxes), tmp_path)


def test_camera_files_of_an_annotation_file_are_used(lifting_ckpt, tmp_path):
    # 2D annotated through another camera than the default one
    anno_path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    cam_K = np.array([[300.0, 0.0, 250.0], [0.0, 300.0, 260.0], [0, 0, 1]])
    hand = _gt_hand(1, 5)
    joints_m = np.array(hand['joints_3d'], dtype=float)
    hand['joints_2d'] = project(joints_m, cam_K).tolist()
    valid_px = project(joints_m[np.array(hand['valid'])], cam_K)
    hand['bbox'] = np.concatenate([valid_px.min(0) - 10,
                                   valid_px.max(0) + 10]).tolist()
    anno_path.write_text(json.dumps(
        {'uid_a': {'10': _frame('uid_a', 10, {'right': hand})}}))
    camera_dir = tmp_path / 'camera_pose'
    camera_dir.mkdir()
    (camera_dir / 'uid_a.json').write_text(json.dumps(
        {'aria01': {'camera_intrinsics': cam_K.tolist()}}))
    args = [str(LIFTING_CONFIG), str(lifting_ckpt), '', '--ann-file',
            str(anno_path), '--out', str(tmp_path / 'preds.json')]
    # through the default intrinsics the 2D is off the 3D: the file is
    # refused
    with pytest.raises(ValueError, match='the 2D of 1 of 1 hands lies'):
        _load_tool().main(args)
    assert _load_tool().main(args + ['--camera-dir', str(camera_dir)]) == 0
    preds = json.loads((tmp_path / 'preds.json').read_text())
    assert np.array(preds['uid_a']['10']['right_hand_3d']).shape == (21, 3)
