"""tools/infer.py on a tiny official annotation file."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from hp3d.apis import Hand3DInferencer, init_model
from hp3d.apis.model_index import REPO_ROOT
from hp3d.datasets.camera import default_intrinsics, project

LIFTING_CONFIG = REPO_ROOT / 'configs' / 'pose_transformer_egoexo.py'


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


@pytest.fixture
def lifting_ckpt(tmp_path) -> Path:
    torch.manual_seed(7)
    model = init_model(Config.fromfile(str(LIFTING_CONFIG)))
    path = tmp_path / 'lifting.pth'
    torch.save({'state_dict': model.state_dict()}, path)
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
