import numpy as np
import pytest

from hp3d.datasets.camera import default_intrinsics, project
from hp3d.evaluation.functional.keypoint_2d_eval import (
    COCO_WHOLEBODY_HAND_SIGMAS,
    build_coco_dt,
    build_coco_gt,
    coco_keypoint_ap,
    keypoint_epe,
    keypoint_pck,
    project_root_relative,
)
from hp3d.evaluation.metrics.keypoint_2d_metric import Keypoint2DMetric
from hp3d.registry import METRICS

K_DEFAULT = default_intrinsics()


def gt_hand(seed):
    """(21, 3) camera-frame joints (m) around 0.4 m in front of the camera."""
    rng = np.random.default_rng(seed)
    return np.array([0.02, 0.05, 0.4]) + rng.uniform(-0.04, 0.04, (21, 3))


def prediction(gt_m, pred_m=None, cam_K=K_DEFAULT, offset_px=(0.0, 0.0),
               bbox=None, **extra):
    """A design-§4 prediction dict plus the metric's sample keys."""
    pred_m = gt_m if pred_m is None else pred_m
    keypoints_2d = project(gt_m, cam_K) + np.asarray(offset_px)
    if bbox is None:
        bbox = np.r_[keypoints_2d.min(0) - 10, keypoints_2d.max(0) + 10]
    return dict(sample_idx=0, pred_mm=(pred_m - pred_m[0]) * 1000.0,
                gt_m=gt_m, valid=np.ones(21, bool), cam_K=cam_K,
                keypoints_2d=keypoints_2d, bbox=np.asarray(bbox), **extra)


def evaluate(preds, **cfg):
    metric = METRICS.build(dict(type='Keypoint2DMetric', **cfg))
    metric.process({}, preds)
    return metric.evaluate(len(preds))


def test_project_root_relative_places_the_root():
    gt = gt_hand(0)
    cam_K = np.array([[200.0, 0, 250], [0, 210.0, 240], [0, 0, 1]])
    rel_mm = (gt - gt[0]) * 1000.0
    px = project_root_relative(rel_mm[None], gt[None, 0], cam_K)
    np.testing.assert_allclose(px[0], project(gt, cam_K), rtol=1e-9)
    # By hand: the wrist at (0.1, -0.05, 0.5) m lands at f x/z + c.
    px = project_root_relative(np.zeros((1, 21, 3)),
                               np.array([[0.1, -0.05, 0.5]]), cam_K)
    np.testing.assert_allclose(px[0, 0], [200 * 0.2 + 250, 210 * -0.1 + 240])


def test_epe_and_pck_by_hand():
    gt = np.zeros((2, 21, 2))
    pred = gt.copy()
    pred[..., 0] += 3.0
    pred[..., 1] += 4.0  # 5 px everywhere
    mask = np.ones((2, 21), bool)
    mask[1, 18:] = False
    pred[1, 18:] = 1e6  # masked out: must not count
    assert keypoint_epe(pred, gt, mask) == pytest.approx(5.0)
    # thr 0.2: hand 0 (size 100 -> 20 px) hits, hand 1 (size 20 -> 4 px)
    # misses; joints 0-17 score 1/2, joints 18-20 (hand 0 only) score 1.
    pck = keypoint_pck(pred, gt, mask, 0.2, np.array([100.0, 20.0]))
    assert pck == pytest.approx((18 * 0.5 + 3 * 1.0) / 21)
    assert keypoint_pck(pred, gt, mask, 0.25, np.array([100.0, 20.0])) == 1.0
    assert np.isnan(keypoint_epe(pred, gt, np.zeros((2, 21), bool)))


def test_build_coco_dicts():
    pts = np.arange(2 * 21 * 2, dtype=float).reshape(2, 21, 2)
    visible = np.ones((2, 21), bool)
    visible[1, 4] = False
    gt = build_coco_gt(pts, visible, np.array([[0, 0, 10, 20],
                                               [5, 5, 15, 10]]))
    assert [a['id'] for a in gt['annotations']] == [1, 2]
    assert [i['id'] for i in gt['images']] == [1, 2]
    ann = gt['annotations'][1]
    assert ann['bbox'] == [5, 5, 10, 5] and ann['area'] == 50
    assert ann['num_keypoints'] == 20
    assert ann['keypoints'][12:15] == [0, 0, 0]
    assert ann['keypoints'][:3] == [42.0, 43.0, 2]
    dt = build_coco_dt(pts)
    assert dt[1]['image_id'] == 2 and dt[1]['score'] == 1.0
    assert dt[1]['keypoints'][12:15] == [8 + 42.0, 9 + 42.0, 1]


def test_oks_ap_by_hand():
    """One hand, every joint 2 px off: AP = share of OKS thresholds met."""
    gt = np.random.default_rng(0).uniform(100, 200, (1, 21, 2))
    visible = np.ones((1, 21), bool)
    box = np.array([[90.0, 90.0, 210.0, 210.0]])  # area 14400
    pred = gt + np.array([0.0, 2.0])
    var = (2 * COCO_WHOLEBODY_HAND_SIGMAS)**2
    oks = np.exp(-4.0 / var / 14400 / 2).mean()
    thresholds = np.linspace(0.5, 0.95, 10)
    expected = (oks >= thresholds).mean()
    assert 0 < expected < 1  # the offset splits the thresholds
    result = coco_keypoint_ap(build_coco_gt(gt, visible, box),
                              build_coco_dt(pred))
    assert result['AP'] == pytest.approx(expected)
    assert result['AP50'] == pytest.approx(1.0)
    assert result['AR'] == pytest.approx(expected)


def test_perfect_predictions():
    preds = [prediction(gt_hand(i)) for i in range(4)]
    out = evaluate(preds)
    assert out['kpt2d/AP'] == pytest.approx(1.0)
    assert out['kpt2d/AR'] == pytest.approx(1.0)
    assert out['kpt2d/PCK@0.2'] == 1.0
    assert out['kpt2d/EPE_px'] == pytest.approx(0.0, abs=1e-9)


def test_3d_validity_does_not_hide_gt_2d():
    pred = prediction(gt_hand(0))
    pred['valid'][3] = False
    pred['keypoints_2d'][3] += (30.0, 40.0)  # labelled in 2D, 50 px off
    assert evaluate([pred])['kpt2d/EPE_px'] == pytest.approx(50.0 / 21)


def test_known_pixel_offset():
    """GT 2D 3-4-5 px off the (exact) projection: EPE 5, PCK by box size."""
    big = prediction(gt_hand(0), offset_px=(3.0, 4.0),
                     bbox=[100.0, 100.0, 200.0, 160.0])  # size 100: 20 px
    small = prediction(gt_hand(1), offset_px=(3.0, 4.0),
                       bbox=[100.0, 100.0, 110.0, 120.0])  # 20: 4 px
    small['keypoints_2d'][18:] = np.nan  # unlabelled joints
    out = evaluate([big, small])
    assert out['kpt2d/EPE_px'] == pytest.approx(5.0)
    assert out['kpt2d/PCK@0.2'] == pytest.approx((18 * 0.5 + 3) / 21)
    out = evaluate([big, small], pck_thr=0.3)
    assert out['kpt2d/PCK@0.3'] == pytest.approx(1.0)


def test_wrong_prediction_scores_lower():
    gt = gt_hand(0)
    pred_m = gt.copy()
    pred_m[1:, :2] += 0.01  # 1 cm off: 3.75 px at 0.4 m
    out = evaluate([prediction(gt, pred_m)])
    assert out['kpt2d/EPE_px'] == pytest.approx(
        np.linalg.norm(project(pred_m, K_DEFAULT) - project(gt, K_DEFAULT),
                       axis=1).mean())
    assert out['kpt2d/AP'] < 1.0


def test_gt_2d_from_3d_and_box_from_keypoints():
    """Without keypoints_2d/bbox: GT 2D is gt_m projected over valid joints."""
    gt = gt_hand(2)
    pred_m = gt.copy()
    pred_m[5, 0] += 0.002  # about 0.75 px at z = 0.4 m
    pred = prediction(gt, pred_m)
    del pred['keypoints_2d'], pred['bbox']
    pred['valid'][7] = False
    pred_m[7, 0] += 1.0  # invalid joint: ignored
    pred['pred_mm'] = (pred_m - pred_m[0]) * 1000.0
    out = evaluate([pred])
    err = np.linalg.norm(project(pred_m[5], K_DEFAULT) -
                         project(gt[5], K_DEFAULT))
    assert out['kpt2d/EPE_px'] == pytest.approx(err / 20)
    # PCK's box is that of the 20 labelled joints: thresholds just above and
    # below joint 5's error, as fractions of its longer side
    labelled_px = project(np.delete(gt, 7, axis=0), K_DEFAULT)
    size = np.ptp(labelled_px, axis=0).max()
    assert evaluate([pred], pck_thr=1.01 * err / size)[
        f'kpt2d/PCK@{1.01 * err / size}'] == 1.0
    assert evaluate([pred], pck_thr=0.99 * err / size)[
        f'kpt2d/PCK@{0.99 * err / size}'] == pytest.approx(19 / 20)


def test_hands_without_gt_wrist_are_skipped():
    scored = prediction(gt_hand(0), offset_px=(0.0, 1.0))
    no_root = prediction(gt_hand(1), offset_px=(50.0, 0.0))
    no_root['gt_m'] = np.full((21, 3), np.nan)  # e.g. a COCO-sourced hand
    out = evaluate([scored, no_root])
    assert out['kpt2d/EPE_px'] == pytest.approx(1.0)
    with pytest.raises(ValueError, match='none of the 1 predictions'):
        evaluate([no_root])


def test_missing_intrinsics_is_an_error():
    pred = prediction(gt_hand(0))
    del pred['cam_K']
    with pytest.raises(KeyError, match='cam_K'):
        Keypoint2DMetric().process({}, [pred])
    with pytest.raises(ValueError, match='21 values'):
        Keypoint2DMetric(sigmas=[0.1] * 17)
