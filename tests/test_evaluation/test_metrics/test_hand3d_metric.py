import json

import numpy as np
import pytest

from hp3d.evaluation.metrics import EgoExo4DHandMetric
from hp3d.registry import METRICS

WRIST_A_M = np.array([0.10, -0.05, 0.45])
WRIST_B_M = np.array([-0.12, 0.02, 0.38])
# Centred, covariance diag(2 * 7.75^2, 800, 1800): x has the smallest
# spread. Errors avoid integer mm, where float noise would decide PCK.
MIRROR_SET_MM = np.array([[7.75, 0, 0], [-7.75, 0, 0], [0, 20, 0],
                          [0, -20, 0], [0, 0, 30], [0, 0, -30]])


def hand_a():
    """21 valid joints 12.5 mm from the wrist; the prediction doubles
    them."""
    directions = np.random.default_rng(0).normal(size=(21, 3))
    rel_mm = 12.5 * directions / np.linalg.norm(directions, axis=1,
                                              keepdims=True)
    rel_mm[0] = 0
    gt_m = WRIST_A_M + rel_mm / 1000
    return dict(sample_idx=0, take_uid='t1', frame_number=5, hand='right',
                has_gt=True, pred_mm=2 * rel_mm, gt_m=gt_m,
                valid=np.ones(21, dtype=bool))


def hand_b():
    """Joints 1-6 valid (wrist not), predicted mirrored in x; 7-20 invalid
    with NaN GT and garbage predictions."""
    gt_m = np.full((21, 3), np.nan)
    gt_m[0] = WRIST_B_M
    gt_m[1:7] = WRIST_B_M + MIRROR_SET_MM / 1000
    pred_mm = np.full((21, 3), 1e4)
    pred_mm[0] = 0
    pred_mm[1:7] = MIRROR_SET_MM * [-1, 1, 1]
    valid = np.zeros(21, dtype=bool)
    valid[1:7] = True
    return dict(sample_idx=1, take_uid='t1', frame_number=5, hand='left',
                has_gt=True, pred_mm=pred_mm, gt_m=gt_m, valid=valid)


def hand_c():
    """Box-only: no GT."""
    return dict(sample_idx=2, take_uid='t2', frame_number=9, hand='right',
                has_gt=False, pred_mm=np.arange(63.0).reshape(21, 3),
                gt_m=np.full((21, 3), np.nan), valid=np.zeros(21, bool))


def run(metric, predictions, size=None):
    metric.process({}, predictions)
    return metric.evaluate(size or len(predictions))


def test_hand_computed_values():
    metrics = run(EgoExo4DHandMetric(), [hand_b(), hand_c(), hand_a()])
    # Hand A: every non-wrist joint 12.5 mm off, the wrist (GT added back)
    # 0; PA-MPJPE 0 (a scaling). Hand B: the x points 15.5 mm off; the best
    # proper rotation is the identity (without the reflection fix the
    # alignment would be exact), scale a = (l2 + l3 - l1) / (l1 + l2 + l3)
    # with l = (2 * 7.75^2, 800, 1800); PA errors 7.75 (1 + a) (x2),
    # 20 (1 - a) (x2), 30 (1 - a) (x2).
    l1, l2, l3 = 2 * 7.75**2, 800, 1800
    a = (l2 + l3 - l1) / (l1 + l2 + l3)
    pa_b = (2 * 7.75 * (1 + a) + 2 * 20 * (1 - a) + 2 * 30 * (1 - a)) / 6
    expected = {
        'MPJPE': (20 * 12.5 / 21 + 2 * 15.5 / 6) / 2,
        'PA-MPJPE': (0 + pa_b) / 2,
        'PCK@10mm': 5 / 27,  # A's wrist, B's 4 exact joints
        'PCK@20mm': 1.0,
        'PCK@50mm': 1.0,
        # PCK on 1 mm steps: 5/27 up to 12, 25/27 from 13 to 15, 1 from 16;
        # trapezoids: 12 * 5/27 + 15/27 + 2 * 25/27 + 26/27 + 34. (At 0 mm
        # round-off decides whether B's exact joints count: +-2/27/50.)
        'AUC': (151 / 27 + 34) / 50,
        'MPJPE/wrist': 0.0,
        'MPJPE/thumb_1': 14.0,
        'MPJPE/thumb_3': 6.25,
        'MPJPE/pinky_4': 12.5,
    }
    for key, value in expected.items():
        tolerance = 2 / 27 / 50 if key == 'AUC' else 1e-6
        assert metrics[f'egoexo4d/{key}'] == pytest.approx(
            value, abs=tolerance), key
    assert len(metrics) == 2 + 5 + 1 + 21


def test_order_and_padding_do_not_matter():
    preds = [hand_a(), hand_b(), hand_c()]
    reference = run(EgoExo4DHandMetric(prefix='m'), preds)
    shuffled = [preds[2], preds[0], preds[1], hand_a()]  # padded copy of A
    again = run(EgoExo4DHandMetric(prefix='m'), shuffled, size=4)
    assert again == reference


def test_box_only_run_writes_file_and_returns_no_metrics(tmp_path):
    out = tmp_path / 'sub' / 'preds.json'
    metrics = run(EgoExo4DHandMetric(submission_file=str(out)), [hand_c()])
    assert metrics == {}
    written = json.loads(out.read_text())
    assert written == {
        't2': {'9': {'left_hand_3d': [],
                     'right_hand_3d': (np.arange(63.0).reshape(21, 3) /
                                       1000).tolist()}}
    }


def test_two_predictions_for_one_hand_are_refused(tmp_path):
    # e.g. two images with one file stem (the take id of images)
    out = tmp_path / 'preds.json'
    twin = dict(hand_c(), sample_idx=3)
    with pytest.raises(ValueError, match="two predictions for take 't2', "
                       'frame 9, right hand'):
        run(EgoExo4DHandMetric(submission_file=str(out)), [hand_c(), twin])
    assert not out.exists()


def test_submission_is_in_metres_camera_space(tmp_path):
    out = tmp_path / 'preds.json'
    run(EgoExo4DHandMetric(submission_file=str(out)),
        [hand_a(), hand_b(), hand_c()])
    written = json.loads(out.read_text())
    assert set(written) == {'t1', 't2'}
    frame = written['t1']['5']
    assert set(frame) == {'left_hand_3d', 'right_hand_3d'}
    right = np.array(frame['right_hand_3d'])
    a = hand_a()
    np.testing.assert_allclose(right, WRIST_A_M + a['pred_mm'] / 1000)
    np.testing.assert_allclose(right[0], WRIST_A_M)
    left = np.array(frame['left_hand_3d'])
    np.testing.assert_allclose(left[1:7],
                               WRIST_B_M + MIRROR_SET_MM * [-1, 1, 1] / 1000)
    # No temporary file is left next to it.
    assert [p.name for p in tmp_path.iterdir()] == ['preds.json']


def write_gt(tmp_path, hands):
    """An official GT file holding ``hands`` (prediction-dict layout)."""
    anno = {}
    for h in hands:
        frame = anno.setdefault(h['take_uid'], {}).setdefault(
            str(h['frame_number']),
            dict(metadata=dict(take_uid=h['take_uid'], take_name='n',
                               frame_number=h['frame_number']),
                 **{f'{s}_hand_{k}': [] for s in ('right', 'left')
                    for k in ('3d', '2d', 'bbox', 'valid_3d')}))
        frame[f'{h["hand"]}_hand_3d'] = h['gt_m'].tolist()
        frame[f'{h["hand"]}_hand_valid_3d'] = h['valid'].tolist()
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text(json.dumps(anno))
    return str(path)


def test_ann_file_coverage_errors(tmp_path):
    ann_file = write_gt(tmp_path, [hand_a(), hand_b()])
    with pytest.raises(ValueError) as error:
        run(EgoExo4DHandMetric(ann_file=ann_file), [hand_a()])
    assert '1 missing: (t1, 5, left)' in str(error.value)

    duplicate = hand_a()
    duplicate['sample_idx'] = 7
    with pytest.raises(ValueError) as error:
        run(EgoExo4DHandMetric(ann_file=ann_file),
            [hand_a(), hand_b(), duplicate])
    assert '1 duplicate: (t1, 5, right)' in str(error.value)

    with pytest.raises(ValueError) as error:
        run(EgoExo4DHandMetric(ann_file=ann_file),
            [hand_a(), hand_b(), hand_c()])
    assert '1 not in the annotation file: (t2, 9, right)' in str(error.value)

    out = tmp_path / 'preds.json'
    metrics = run(EgoExo4DHandMetric(ann_file=ann_file,
                                     submission_file=str(out)),
                  [hand_b(), hand_a()])
    assert metrics['egoexo4d/MPJPE'] == pytest.approx(
        (20 * 12.5 / 21 + 2 * 15.5 / 6) / 2)
    assert out.exists()


def test_missing_prediction_leaves_no_file(tmp_path):
    ann_file = write_gt(tmp_path, [hand_a(), hand_b()])
    out = tmp_path / 'preds.json'
    with pytest.raises(ValueError, match='missing'):
        run(EgoExo4DHandMetric(ann_file=ann_file, submission_file=str(out)),
            [hand_b()])
    assert not out.exists()


def official_protocol(pred_file, gt_file):
    """The official evaluation, per hand in plain loops: GT and predictions
    x 1000, joints selected by valid_3d, MPJPE and similarity-Procrustes
    MPJPE (proper rotation), averaged over hands."""
    with open(pred_file) as f:
        preds = json.load(f)
    with open(gt_file) as f:
        gts = json.load(f)
    errors, pa_errors = [], []
    for take, frames in gts.items():
        for frame_key, frame in frames.items():
            for hand in ('right', 'left'):
                if not frame[f'{hand}_hand_3d']:
                    continue
                gt = np.array(frame[f'{hand}_hand_3d']) * 1000
                pred = np.array(preds[take][frame_key][f'{hand}_hand_3d'])
                pred = pred * 1000
                sel = np.array(frame[f'{hand}_hand_valid_3d'])
                g, p = gt[sel], pred[sel]
                errors.append(np.linalg.norm(p - g, axis=1).mean())
                pc, gc = p - p.mean(0), g - g.mean(0)
                u, s, vt = np.linalg.svd(pc.T @ gc)
                d = np.diag([1, 1, np.sign(np.linalg.det(u @ vt))])
                scale = (s * np.diag(d)).sum() / (pc**2).sum()
                aligned = scale * pc @ (u @ d @ vt) + g.mean(0)
                pa_errors.append(np.linalg.norm(aligned - g, axis=1).mean())
    return np.mean(errors), np.mean(pa_errors)


def test_matches_the_official_protocol_on_random_hands(tmp_path):
    rng = np.random.default_rng(4)
    hands = []
    for i in range(40):
        wrist = rng.normal([0, 0.1, 0.4], 0.05)
        gt_m = wrist + rng.normal(0, 0.04, (21, 3))
        gt_m[0] = wrist
        valid = rng.random(21) < 0.8
        valid[:10] = True
        gt_m[~valid] = np.nan
        gt_m[0] = wrist
        pred_mm = (gt_m - wrist) * 1000 + rng.normal(0, 12, (21, 3))
        if i % 4 == 0:
            pred_mm[:, 0] *= -1  # reflections
        pred_mm[~valid] = rng.normal(0, 1e3, (int((~valid).sum()), 3))
        pred_mm[0] = 0
        hands.append(dict(sample_idx=i, take_uid=f'take{i // 6}',
                          frame_number=3 * (i // 2), hand=('right', 'left')[i % 2],
                          has_gt=True, pred_mm=pred_mm.astype(np.float32),
                          gt_m=gt_m.astype(np.float32), valid=valid))
    ann_file = write_gt(tmp_path, hands)
    out = tmp_path / 'preds.json'
    metrics = METRICS.build(
        dict(type='EgoExo4DHandMetric', ann_file=ann_file,
             submission_file=str(out)))
    result = run(metrics, hands)
    mpjpe, pa = official_protocol(str(out), ann_file)
    assert result['egoexo4d/MPJPE'] == pytest.approx(mpjpe, abs=1e-3)
    assert result['egoexo4d/PA-MPJPE'] == pytest.approx(pa, abs=1e-3)


def test_bad_predictions_are_reported():
    bad = hand_a()
    bad['pred_mm'][3, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite prediction for \('t1', "
                       r"'5', 'right'\)"):
        run(EgoExo4DHandMetric(), [bad])
    incomplete = hand_a()
    del incomplete['gt_m']
    with pytest.raises(KeyError, match="missing \\['gt_m'\\]"):
        EgoExo4DHandMetric().process({}, [incomplete])
