"""Annotation statistics on a tiny hand-made file with known values."""
import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from hp3d.datasets.stats import (
    MEAN_TOL_MM,
    annotation_stats,
    box_stats,
    compare_joint_stats,
    joint_stats_dict,
    joint_stats_mm,
    lifting_stats,
    load_hand_annotations,
    load_joint_stats,
    normalisation_stats,
)

REPO = Path(__file__).resolve().parents[2]
J = np.arange(21)


def _hand_a():
    """Right hand: joint j at wrist + (j, 2j, 0) mm, all valid."""
    kp3d = np.array([0.0, 0.0, 0.5]) + np.stack([J, 2 * J, 0 * J], 1) / 1000
    kp2d = np.stack([100.0 + J, np.full(21, 200.0)], 1)
    return kp3d, kp2d, [True] * 21, [10.0, 20.0, 110.0, 220.0]


def _hand_b():
    """Left hand: joint j at wrist + (3j, 0, j) mm; joint 5 invalid (NaN),
    wrist flagged invalid but its 3D kept (the files' rule)."""
    kp3d = np.array([0.1, 0.0, 0.4]) + np.stack([3 * J, 0 * J, J], 1) / 1000
    kp2d = np.stack([np.full(21, 300.0), 400.0 + J], 1)
    valid = [j not in (0, 5) for j in range(21)]
    kp3d[5] = np.nan
    kp2d[[0, 5]] = np.nan
    return kp3d, kp2d, valid, [0.0, 0.0, 50.0, 30.0]


def _fields(hand, kp3d, kp2d, valid, box):
    return {f'{hand}_hand_3d': kp3d.tolist(), f'{hand}_hand_2d': kp2d.tolist(),
            f'{hand}_hand_bbox': box, f'{hand}_hand_valid_3d': valid}


@pytest.fixture
def gt_file(tmp_path):
    meta = dict(take_uid='t1', take_name='synth_0000_cooking', frame_number=3)
    frame = {**_fields('right', *_hand_a()), **_fields('left', *_hand_b()),
             'metadata': meta}
    empty = {f'right_hand_{k}': [] for k in ('3d', '2d', 'bbox', 'valid_3d')}
    empty.update({f'left_hand_{k}': [] for k in ('3d', '2d', 'bbox',
                                                  'valid_3d')})
    empty['metadata'] = dict(meta, frame_number=6)
    path = tmp_path / 'ego_pose_gt_anno_train_public.json'
    path.write_text(json.dumps({'t1': {'3': frame, '6': empty}}))
    assert 'NaN' in path.read_text()
    return str(path)


@pytest.fixture
def box_file(tmp_path):
    meta = dict(take_uid='t2', take_name='x', frame_number=9)
    data = {'t2': {'9': {'right_hand_bbox': [], 'left_hand_bbox': [
        1.0, 2.0, 41.0, 22.0], 'metadata': meta}}}
    path = tmp_path / 'ego_pose_gt_anno_test_public.json'
    path.write_text(json.dumps(data))
    return str(path)


def test_load_hand_annotations(gt_file, box_file):
    hands = load_hand_annotations(gt_file)
    assert hands['is_left'].tolist() == [False, True]
    assert hands['has_gt'].tolist() == [True, True]
    assert hands['frame_number'].tolist() == [3, 3]
    assert hands['valid'].sum(1).tolist() == [21, 19]
    assert np.isnan(hands['keypoints_3d'][1, 5]).all()
    boxes = load_hand_annotations(box_file)
    assert boxes['has_gt'].tolist() == [False]
    assert boxes['is_left'].tolist() == [True]
    assert not boxes['valid'].any() and np.isnan(boxes['keypoints_3d']).all()
    np.testing.assert_array_equal(boxes['bbox'], [[1, 2, 41, 22]])


def test_load_older_valid_key_and_rejections(tmp_path):
    kp3d, kp2d, valid, box = _hand_a()
    frame = _fields('right', kp3d, kp2d, valid, box)
    frame['right_hand_valid'] = frame.pop('right_hand_valid_3d')
    frame.update(left_hand_3d=[], left_hand_2d=[], left_hand_bbox=[],
                 left_hand_valid=[], metadata=dict(
                     take_uid='t', take_name='x', frame_number=1))
    path = tmp_path / 'old.json'
    path.write_text(json.dumps({'t': {'1': frame}}))
    hands = load_hand_annotations(str(path))
    assert hands['valid'].all() and hands['rejections'] == []
    frame['right_hand_3d'] = frame['right_hand_3d'][:20]
    path.write_text(json.dumps({'t': {'1': frame}}))
    # rejected as the dataset rejects it, or an error naming the record
    hands = load_hand_annotations(str(path))
    assert len(hands['is_left']) == 0
    assert hands['rejections'] == [dict(
        take_uid='t', frame='1', hand='right', kind='bad_shape',
        reason='right_hand_3d: expected shape (21, 3), got (20, 3)')]
    with pytest.raises(ValueError, match=r"take 't', frame '1', hand "
                       r"'right': right_hand_3d: expected shape"):
        load_hand_annotations(str(path), on_bad_record='error')


def test_stats_leave_out_what_the_dataset_rejects(gt_file, tmp_path):
    data = json.loads(Path(gt_file).read_text())
    right = data['t1']['3']
    right['right_hand_2d'][0] = [float('nan')] * 2  # valid wrist, no 2D: kept
    right['left_hand_3d'][7] = [float('nan')] * 3  # valid flag at NaN: rejected
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text(json.dumps(data))
    stats = normalisation_stats(str(path))
    assert stats['num_hands'] == 1 and stats['num_rejected'] == 1
    # hand A alone: u = 101..120 (its wrist has no 2D), x = 0..20 mm
    assert stats['lifting']['input_mean_px'][0] == pytest.approx(110.5)
    assert stats['lifting']['target_mean_m'][0] == pytest.approx(0.010)
    assert np.isfinite(stats['joint_mean_mm']).all()
    # fewer valid joints than the dataset's minimum: rejected too
    assert load_hand_annotations(gt_file, min_valid_joints=20)[
        'rejections'][0]['kind'] == 'too_few_joints'


def test_joint_stats_hand_computed(gt_file):
    hands = load_hand_annotations(gt_file)
    mean, std = joint_stats_mm(hands['keypoints_3d'], hands['valid'])
    j = J.astype(float)
    # Two hands: (j, 2j, 0) and (3j, 0, j) mm -> mean (2j, j, j/2), std
    # (j, j, j/2); joint 5 only from hand A; the wrist 0.
    expected_mean = np.stack([2 * j, j, j / 2], 1)
    expected_std = np.stack([j, j, j / 2], 1)
    expected_mean[5], expected_std[5] = [5, 10, 0], 0
    # the loader keeps float32 metres (as the dataset): ~1e-4 mm resolution
    np.testing.assert_allclose(mean, expected_mean, atol=1e-4)
    np.testing.assert_allclose(std, expected_std, atol=1e-4)


def test_lifting_stats_hand_computed(gt_file):
    hands = load_hand_annotations(gt_file)
    stats = lifting_stats(hands['keypoints_2d'], hands['keypoints_3d'],
                          hands['valid'])
    # 2D u: hand A 100..120 (21 joints), hand B 300 on its 19 valid joints.
    assert stats['input_mean_px'][0] == pytest.approx((2310 + 19 * 300) / 40)
    # 3D x (m): hand A 0..20 mm (wrist 0 included), hand B 3j for the 19
    # valid joints (wrist flag False, joint 5 invalid).
    assert stats['target_mean_m'][0] == pytest.approx(
        (210 + 3 * 205) / 40 / 1000)
    u = np.concatenate([100 + J, np.full(19, 300)])
    assert stats['input_std_px'][0] == pytest.approx(u.std())


def test_box_stats_hand_computed():
    bbox = np.array([[10, 20, 110, 220], [0, 0, 50, 30], [np.nan] * 4])
    stats = box_stats(bbox, np.array([False, True, True]))
    assert stats['right']['size_mean'] == [100, 200]
    assert stats['left']['count'] == 1
    assert stats['all']['size_mean'] == [75, 115]
    assert stats['all']['size_std'] == [25, 85]
    assert stats['all']['center_mean'] == [(60 + 25) / 2, (120 + 15) / 2]
    assert math.isnan(box_stats(bbox[:0], np.zeros(0, bool))['all']
                      ['size_mean'][0])


def test_compare_joint_stats_thresholds():
    ref_mean = np.zeros((21, 3))
    ref_std = np.full((21, 3), 20.0)
    ref_std[0] = 0
    mean, std = ref_mean.copy(), ref_std.copy()
    mean[3, 1] = 9.9
    std[4, 2] = 25.0  # ratio 1.25: on the limit, passes
    comp = compare_joint_stats(mean, std, ref_mean, ref_std)
    assert comp['all_passed']
    assert comp['worst_mean_delta_mm'] == pytest.approx(9.9)
    assert comp['worst_std_ratio'] == pytest.approx(1.25)
    assert comp['std_ratio'][0].tolist() == [1, 1, 1]
    mean[7, 0] = -10.5
    std[8, 0] = 14.0  # ratio 0.7
    comp = compare_joint_stats(mean, std, ref_mean, ref_std)
    assert not comp['all_passed']
    assert (~comp['passed']).sum() == 2
    assert not comp['passed'][7, 0] and not comp['passed'][8, 0]
    assert comp['worst_std_ratio'] == pytest.approx(0.7)


def test_joint_stats_file_round_trip(tmp_path):
    path = tmp_path / 'stats.json'
    mean, std = np.ones((21, 3)), np.full((21, 3), 2.0)
    path.write_text(json.dumps(joint_stats_dict(mean, std, 'test')))
    loaded = load_joint_stats(str(path))
    np.testing.assert_array_equal(loaded[0], mean)
    np.testing.assert_array_equal(loaded[1], std)
    path.write_text(json.dumps({'joint_mean_mm': [[0, 0, 0]]}))
    with pytest.raises(ValueError, match='joint_std_mm'):
        load_joint_stats(str(path))


def test_normalisation_and_annotation_stats(gt_file, box_file, tmp_path):
    stats = normalisation_stats(gt_file)
    assert stats['num_hands'] == 2
    assert stats['joint_mean_mm'][20] == pytest.approx([40, 20, 10])
    with pytest.raises(ValueError, match='no hand with 3D'):
        normalisation_stats(box_file)
    # a reference off by 11 mm in joint 7's x mean, within tolerance elsewhere
    ref_mean = np.array(stats['joint_mean_mm'])
    ref_mean[7, 0] += MEAN_TOL_MM + 1
    ref_mean[8, 1] += MEAN_TOL_MM - 1
    ref = tmp_path / 'ref.json'
    ref.write_text(json.dumps(joint_stats_dict(
        ref_mean, stats['joint_std_mm'], 'shifted')))
    report = annotation_stats(gt_file, str(ref))
    comparison = report['comparison']
    assert not comparison['all_passed']
    failed = np.argwhere(~np.asarray(comparison['passed'])).tolist()
    assert failed == [[7, 0]]
    assert comparison['mean_delta_mm'][7][0] == pytest.approx(
        -(MEAN_TOL_MM + 1))
    assert report['valid_fraction'] == pytest.approx(40 / 42)
    assert 'joint_mean_mm' not in annotation_stats(box_file)


def _run(monkeypatch, capsys, script, *args):
    """Run a tool script's ``__main__`` in this process; its stdout."""
    monkeypatch.setattr(sys, 'argv', [script, *map(str, args)])
    runpy.run_path(str(REPO / script), run_name='__main__')
    return capsys.readouterr().out


def test_report_and_compute_stats_tools(gt_file, box_file, tmp_path,
                                        monkeypatch, capsys):
    ref = tmp_path / 'ref.json'
    out = tmp_path / 'out.json'
    printed = _run(monkeypatch, capsys,
                   'tools/dataset_converters/compute_stats.py', gt_file,
                   '--out', ref)
    assert json.loads(ref.read_text())['joint_mean_mm'][20] == pytest.approx(
        [40, 20, 10])
    # the printed config, pasted into a child of a lifting config, reaches
    # the datasets and the head
    snippet = printed[printed.index('codec = dict('):printed.index('wrote')]
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['{REPO}/configs/pose_transformer_egoexo.py']"
                     f'\n{snippet}')
    cfg = Config.fromfile(str(child))
    mean_px = list(cfg.codec.input_mean_px)
    assert mean_px[0] == pytest.approx((2310 + 19 * 300) / 40, abs=1e-3)
    for codec in (cfg.train_dataloader.dataset.codec,
                  cfg.val_dataloader.dataset.codec,
                  cfg.test_dataloader.dataset.codec, cfg.model.head.codec):
        assert list(codec.input_mean_px) == mean_px
    text = _run(monkeypatch, capsys,
                'tools/dataset_converters/joint_stats_report.py', gt_file,
                '--real-stats', ref, '--boxes-ref', box_file, '--json', out)
    assert 'all joints PASS' in text and 'thumb_4' in text
    report = json.loads(out.read_text())
    assert report['box']['right']['size_mean'] == [100, 200]
    assert report['boxes_ref']['left']['size_mean'] == [40, 20]
