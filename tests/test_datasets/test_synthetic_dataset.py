"""The synthetic dataset on disk: determinism, official layout and rules."""
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hp3d.datasets.camera import default_intrinsics, project
from hp3d.datasets.egoexo4d import EgoExo4DHandDataset
from hp3d.datasets.metainfo import (
    BONE_RANGE_MM,
    HANDS,
    MIN_VALID_JOINTS,
    PALM_BONE_RANGE_MM,
    PALM_BONES,
    SKELETON,
)
from hp3d.datasets.synthetic import (
    CAMERA_NAME,
    INTERIOR_ANGLE_MIN_DEG,
    LATENT_DIM,
    SPLITS,
    TEST_BOXES_FILE,
    PosePrior,
    generate_dataset,
    interior_angles_deg,
    intrinsics_for,
    joint_validity,
    pose_hands,
    sample_annotated_hands,
    sample_hand_shapes,
)

HAND_KEYS = ('3d', '2d', 'bbox', 'valid_3d')
TAKES, FRAMES = 4, 5


def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic')
    summary = generate_dataset(str(root), num_takes=TAKES,
                               frames_per_take=FRAMES, seed=3, workers=1,
                               progress=False)
    return root, summary


def _load(root: Path, split: str) -> dict:
    return json.loads((root / 'annotations' /
                       f'ego_pose_gt_anno_{split}_public.json').read_text())


def _hands(root: Path):
    """(split, take, frame key, frame, hand) of every annotated hand."""
    for split in SPLITS:
        for take_uid, frames in _load(root, split).items():
            for key, frame in frames.items():
                for hand in HANDS:
                    if frame[f'{hand}_hand_3d']:
                        yield split, take_uid, key, frame, hand


def test_deterministic_whatever_the_workers(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / 'again'
    parallel = tmp_path / 'parallel'
    generate_dataset(str(again), num_takes=TAKES, frames_per_take=FRAMES,
                     seed=3, workers=1, progress=False)
    generate_dataset(str(parallel), num_takes=TAKES, frames_per_take=FRAMES,
                     seed=3, workers=2, progress=False)
    expected = _digest(root)
    assert len(expected) > TAKES * 3
    assert _digest(again) == expected
    assert _digest(parallel) == expected
    # Annotations do not depend on rendering; another seed changes them.
    without_images = {k: v for k, v in expected.items()
                      if not k.startswith('images')}
    for seed, same in ((3, True), (4, False)):
        out = tmp_path / f'no_images_{seed}'
        generate_dataset(str(out), num_takes=TAKES, frames_per_take=FRAMES,
                         seed=seed, workers=1, progress=False,
                         write_images=False)
        assert (_digest(out) == without_images) == same


def test_layout_and_splits(dataset):
    root, summary = dataset
    takes = {split: set(_load(root, split)) for split in SPLITS}
    # Whole takes per split, one take each at least (4 takes: 2/1/1).
    assert [len(takes[s]) for s in SPLITS] == [2, 1, 1]
    assert not (takes['train'] & takes['val'] or takes['train'] & takes['test']
                or takes['val'] & takes['test'])
    for split in SPLITS:
        assert summary['splits'][split]['takes'] == len(takes[split])
        for take_uid, frames in _load(root, split).items():
            assert len(take_uid) == 36 and take_uid[14] == '4'
            camera = json.loads((root / 'camera_pose' /
                                 f'{take_uid}.json').read_text())
            assert list(camera) == [CAMERA_NAME]
            np.testing.assert_allclose(
                camera[CAMERA_NAME]['camera_intrinsics'],
                default_intrinsics())
            extrinsics = camera[CAMERA_NAME]['camera_extrinsics']
            assert set(frames) <= set(extrinsics)
            for key in frames:
                pose = np.array(extrinsics[key])
                assert pose.shape == (3, 4)
                np.testing.assert_allclose(pose[:, :3] @ pose[:, :3].T,
                                           np.eye(3), atol=1e-5)
            numbers = sorted(int(k) for k in frames)
            assert set(np.diff(numbers).tolist()) <= {3, 6, 9, 12, 15, 18,
                                                      21, 24}
            for key, frame in frames.items():
                meta = frame['metadata']
                assert meta == dict(take_uid=take_uid,
                                    take_name=meta['take_name'],
                                    frame_number=int(key))
                assert meta['take_name'].startswith('synth_')
                image = cv2.imread(str(root / 'images' / split /
                                       meta['take_name'] /
                                       f'{int(key):06d}.jpg'))
                assert image.shape == (512, 512, 3)


def test_frame_schema_and_nan_tokens(dataset):
    root, _ = dataset
    for split in SPLITS:
        text = (root / 'annotations' /
                f'ego_pose_gt_anno_{split}_public.json').read_text()
        for frames in json.loads(text).values():
            for frame in frames.values():
                assert list(frame) == [f'{h}_hand_{k}' for h in HANDS
                                       for k in HAND_KEYS] + ['metadata']
                assert any(frame[f'{h}_hand_3d'] for h in HANDS)
                for hand in HANDS:
                    values = [frame[f'{hand}_hand_{k}'] for k in HAND_KEYS]
                    # An absent hand has [] everywhere, a present one nothing
                    # empty.
                    assert all(values) or not any(values)
                    if values[0]:
                        assert np.array(values[0]).shape == (21, 3)
                        assert np.array(values[1]).shape == (21, 2)
                        assert len(values[2]) == 4
                        assert all(isinstance(v, bool) for v in values[3])
        # NaN is written as the bare token (json.dump's allow_nan).
        if 'NaN' in text:
            assert '"NaN"' not in text and 'nan,' not in text
    all_text = ''.join((root / 'annotations' / f).read_text()
                       for f in (f'ego_pose_gt_anno_{s}_public.json'
                                 for s in SPLITS))
    assert 'NaN' in all_text
    assert '[], "right_hand_2d": []' in all_text or \
        '[], "left_hand_2d": []' in all_text


def test_box_only_test_file(dataset):
    root, summary = dataset
    boxes = json.loads((root / 'annotations' / TEST_BOXES_FILE).read_text())
    gt = _load(root, 'test')
    assert list(boxes) == list(gt)
    num = 0
    for take_uid, frames in boxes.items():
        assert list(frames) == list(gt[take_uid])
        for key, frame in frames.items():
            assert list(frame) == ['right_hand_bbox', 'left_hand_bbox',
                                   'metadata']
            for hand in HANDS:
                assert frame[f'{hand}_hand_bbox'] == \
                    gt[take_uid][key][f'{hand}_hand_bbox']
                num += bool(frame[f'{hand}_hand_bbox'])
            assert frame['metadata'] == gt[take_uid][key]['metadata']
    assert num == summary['splits']['test']['hands'] > 0
    # the official name: the loader knows its split and finds its images
    dataset = EgoExo4DHandDataset(
        ann_file=str(root / 'annotations' / TEST_BOXES_FILE),
        data_prefix=dict(img=str(root / 'images'), camera=''),
        test_mode=True)
    assert dataset.split == 'test' and len(dataset) == num
    assert not dataset.get_arrays()['has_gt'].any()
    assert Path(dataset[0]['img_path']).is_file()


def test_joint_rules_projection_bones_and_boxes(dataset):
    root, summary = dataset
    cam_K = default_intrinsics().astype(np.float64)
    num = 0
    palm = [child - 1 for parent, child in SKELETON if (parent, child) in
            PALM_BONES]
    for split, take, key, frame, hand in _hands(root):
        num += 1
        kp3d = np.array(frame[f'{hand}_hand_3d'], dtype=float)
        kp2d = np.array(frame[f'{hand}_hand_2d'], dtype=float)
        valid = np.array(frame[f'{hand}_hand_valid_3d'])
        box = np.array(frame[f'{hand}_hand_bbox'])
        where = f'{split} {take} {key} {hand}'
        assert valid.sum() >= MIN_VALID_JOINTS, where
        # Invalid joints are NaN (the wrist keeps its 3D), valid ones finite.
        assert np.isfinite(kp3d[valid]).all() and np.isfinite(kp3d[0]).all()
        assert np.isnan(kp3d[1:][~valid[1:]]).all()
        assert np.isfinite(kp2d[valid]).all()
        assert np.isnan(kp2d[~valid]).all()
        # In the image, and the projection of the 3D.
        assert (kp2d[valid] >= 0).all() and (kp2d[valid] <= 511).all()
        np.testing.assert_allclose(project(kp3d[valid], cam_K), kp2d[valid],
                                   atol=0.01, err_msg=where)
        # Human bone lengths and the official angle check where both ends
        # are valid.
        lengths = np.linalg.norm(
            kp3d[[c for _, c in SKELETON]] - kp3d[[p for p, _ in SKELETON]],
            axis=-1) * 1000
        for b, length in enumerate(lengths):
            if np.isnan(length):
                continue
            low, high = PALM_BONE_RANGE_MM if b in palm else BONE_RANGE_MM
            assert low <= length <= high, where
        angles = interior_angles_deg(kp3d)
        ok = ~np.isnan(angles)
        assert (angles[ok] >= INTERIOR_ANGLE_MIN_DEG[ok] - 1e-6).all(), where
        # Boxes: train/val keypoints +-20 px; test the randomised x1.5 box;
        # both clipped to the image.
        assert (box >= 0).all() and (box <= 511).all()
        lo, hi = kp2d[valid].min(0), kp2d[valid].max(0)
        if split == 'test':
            size = (hi - lo) * 1.5
            center = (box[:2] + box[2:]) / 2
            inside = (box[:2] > 0) & (box[2:] < 511)
            assert (np.abs(center - (lo + hi) / 2) <= 0.1 * size + 1e-3
                    )[inside].all(), where
        else:
            expected = np.clip(np.concatenate([lo - 20, hi + 20]), 0, 511)
            np.testing.assert_allclose(box, expected, atol=2e-3)
    assert num == sum(s['hands'] for s in summary['splits'].values())


def test_some_joints_leave_the_frame_or_hide():
    """Over a moderate set some hands are partial: invalid joints occur, and
    out-of-frame projections are never valid."""
    hands = sample_annotated_hands(np.random.default_rng(0), 3000)
    valid = hands['valid']
    assert 0.7 < valid.mean() < 0.97
    assert (valid.sum(1) >= MIN_VALID_JOINTS).all()
    assert (~valid).any(axis=1).mean() > 0.1
    kp2d = hands['keypoints_2d']
    assert np.isnan(kp2d[~valid]).all()
    assert ((kp2d[valid] >= 0) & (kp2d[valid] <= 511)).all()
    # Before masking: every joint projecting outside the image is invalid,
    # and such joints occur.
    rng = np.random.default_rng(1)
    cam_K = intrinsics_for(512)
    posed = pose_hands(sample_hand_shapes(rng, 3000),
                       rng.standard_normal((3000, LATENT_DIM)),
                       rng.random(3000) < 0.5, PosePrior(), cam_K)
    uv, valid = joint_validity(posed, cam_K, 512)
    outside = ((uv < 0) | (uv > 511)).any(-1)
    assert outside.sum() > 20
    assert not valid[outside].any()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_takes'):
        generate_dataset(str(tmp_path), num_takes=0, progress=False)
    with pytest.raises(ValueError, match='frames_per_take'):
        generate_dataset(str(tmp_path), frames_per_take=0, progress=False)
    assert not any(tmp_path.iterdir())
