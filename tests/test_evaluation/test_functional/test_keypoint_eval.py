import numpy as np
import pytest

from hp3d.evaluation.functional import (
    joint_errors,
    mpjpe,
    pa_mpjpe,
    pck,
    pck_auc,
    per_hand_mean,
    per_joint_mean,
    procrustes_align,
)


def rotation(axis, angle):
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]],
                  [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def reference_pa_mpjpe(pred, gt):
    """Per hand, on the selected joints only: Umeyama similarity with a
    proper rotation, written independently of the vectorised code."""
    mu_p, mu_g = pred.mean(0), gt.mean(0)
    p, g = pred - mu_p, gt - mu_g
    u, s, vt = np.linalg.svd(p.T @ g)  # maps p onto g: R = (u vt)^T
    d = np.sign(np.linalg.det(u @ vt))
    corr = np.diag([1.0, 1.0, d])
    r = u @ corr @ vt
    scale = (s * np.diag(corr)).sum() / (p**2).sum()
    aligned = scale * p @ r + mu_g
    return np.linalg.norm(aligned - gt, axis=1).mean()


def test_mpjpe_hand_computed_with_invalid_joints():
    gt = np.zeros((2, 4, 3))
    pred = np.zeros((2, 4, 3))
    pred[0, :, 0] = [3.0, 4.0, 0.0, 100.0]
    pred[1, :, 1] = [1.0, 2.0, 3.0, 6.0]
    gt[0, 3] = np.nan  # invalid joint: NaN GT must not leak
    mask = np.array([[True, True, True, False], [True, True, True, True]])
    np.testing.assert_allclose(mpjpe(pred, gt, mask), [7 / 3, 3.0])
    errors = joint_errors(pred, gt, mask)
    assert np.isnan(errors[0, 3])
    np.testing.assert_allclose(per_joint_mean(errors, mask),
                               [2.0, 3.0, 1.5, 6.0])
    np.testing.assert_allclose(per_hand_mean(errors, mask), [7 / 3, 3.0])
    assert np.isnan(per_hand_mean(errors, np.zeros((2, 4), bool))).all()


def test_hand_without_valid_joint_is_nan():
    pred = np.ones((1, 4, 3))
    assert np.isnan(mpjpe(pred, pred, np.zeros((1, 4), dtype=bool))[0])
    assert np.isnan(pa_mpjpe(pred, pred, np.zeros((1, 4), dtype=bool))[0])


def test_similarity_transform_is_undone():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 30, (3, 21, 3))
    pred = np.stack([
        2.5 * g @ rotation([1, 2, 3], 0.7).T + [10, -5, 300] for g in gt
    ])
    mask = np.ones((3, 21), dtype=bool)
    assert (mpjpe(pred, gt, mask) > 100).all()
    np.testing.assert_allclose(pa_mpjpe(pred, gt, mask), 0.0, atol=1e-9)
    np.testing.assert_allclose(procrustes_align(pred, gt, mask), gt,
                               atol=1e-9)


def test_reflection_gets_a_proper_rotation_hand_computed():
    # Centred points with diagonal covariance diag(2, 8, 18); the prediction
    # is the GT mirrored in x. The best proper rotation is the identity and
    # the scale (8 + 18 - 2) / 28 = 6/7, so the errors are |1 + 6/7| = 13/7
    # for the x points, 2 - 12/7 = 2/7 and 3 - 18/7 = 3/7: mean 6/7. Without
    # the reflection fix the alignment would be exact (error 0).
    gt = np.array([[1, 0, 0], [-1, 0, 0], [0, 2, 0], [0, -2, 0], [0, 0, 3],
                   [0, 0, -3]], dtype=np.float64)
    pred = gt * [-1, 1, 1]
    mask = np.ones((1, 6), dtype=bool)
    np.testing.assert_allclose(pa_mpjpe(pred[None], gt[None], mask), [6 / 7])
    aligned = procrustes_align(pred[None] + 40, gt[None] - 7, mask)[0]
    np.testing.assert_allclose(aligned, pred * 6 / 7 - 7, atol=1e-12)


def test_masked_joints_are_excluded_from_the_alignment():
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 30, (4, 21, 3))
    pred = gt + rng.normal(0, 8, gt.shape)
    pred[:, :, 0] *= np.array([1, -1, 1, -1])[:, None]  # two reflections
    mask = rng.random((4, 21)) < 0.7
    garbage_pred, garbage_gt = pred.copy(), gt.copy()
    garbage_pred[~mask] = 1e6
    garbage_gt[~mask] = np.nan
    result = pa_mpjpe(garbage_pred, garbage_gt, mask)
    expected = [reference_pa_mpjpe(pred[i][mask[i]], gt[i][mask[i]])
                for i in range(4)]
    np.testing.assert_allclose(result, expected, rtol=1e-10)


def test_collapsed_prediction_aligns_to_the_gt_centroid():
    gt = np.array([[[0.0, 0, 0], [2, 0, 0], [0, 2, 0]]])
    pred = np.ones((1, 3, 3))
    centroid = gt[0].mean(0)
    expected = np.linalg.norm(gt[0] - centroid, axis=1).mean()
    np.testing.assert_allclose(pa_mpjpe(pred, gt, np.ones((1, 3), bool)),
                               [expected])


def test_pck_and_auc():
    errors = np.array([[0.0, 10.0, 25.0, np.nan], [50.0, 60.0, 5.0, 20.0]])
    mask = np.array([[True, True, True, False], [True, True, True, True]])
    # 7 valid errors: 0, 10, 25, 50, 60, 5, 20
    np.testing.assert_allclose(pck(errors, mask, [10, 20, 30, 50]),
                               [3 / 7, 4 / 7, 5 / 7, 6 / 7])
    # One joint with error 25 mm, thresholds 0, 1, ..., 50: PCK is 0 up to
    # 24 and 1 from 25 on; the trapezoid over [24, 25] adds 0.5, so the
    # area is 25.5 of 50.
    assert pck_auc(np.array([[25.0]]), np.ones((1, 1), bool),
                   50.0) == pytest.approx(0.51)
    assert pck_auc(np.zeros((1, 2)), np.ones((1, 2), bool), 50.0) == 1.0
    assert np.isnan(pck(errors, np.zeros_like(mask), [10])).all()


@pytest.mark.parametrize('n', [1, 7])
def test_vectorised_matches_loop(n):
    rng = np.random.default_rng(n)
    gt = rng.normal(0, 30, (n, 21, 3))
    pred = gt + rng.normal(0, 10, gt.shape)
    mask = rng.random((n, 21)) < 0.8
    batched = pa_mpjpe(pred, gt, mask)
    for i in range(n):
        np.testing.assert_allclose(
            pa_mpjpe(pred[i:i + 1], gt[i:i + 1], mask[i:i + 1]), batched[i:i + 1])
