import numpy as np
import pytest
import torch

from hp3d.codecs import LiftingCodec
from hp3d.registry import KEYPOINT_CODECS


def random_hands(n, seed=0):
    rng = np.random.default_rng(seed)
    wrist = rng.normal([0.0, 0.1, 0.4], 0.05, (n, 1, 3))
    kpts_3d = wrist + rng.normal(0.0, 0.04, (n, 21, 3))
    kpts_3d[:, 0] = wrist[:, 0]
    kpts_2d = rng.uniform(100, 400, (n, 21, 2))
    return kpts_2d, kpts_3d


def test_encode_hand_computed_values():
    codec = LiftingCodec(input_mean_px=(100.0, 200.0), input_std_px=(10.0,
                                                                      20.0),
                         target_mean_m=(0.01, 0.0, -0.02),
                         target_std_m=(0.1, 0.2, 0.5))
    kpts_2d = np.full((21, 2), 120.0)
    kpts_3d = np.zeros((21, 3))
    kpts_3d[0] = [0.3, 0.2, 0.5]
    kpts_3d[1] = [0.31, 0.24, 0.48]
    encoded = codec.encode(kpts_2d, kpts_3d, np.ones(21, dtype=bool))
    np.testing.assert_allclose(encoded['inputs'][1], [2.0, -4.0])
    # wrist-relative (0.01, 0.04, -0.02) -> ((0.01-0.01)/0.1, 0.04/0.2, 0)
    np.testing.assert_allclose(encoded['target'][1], [0.0, 0.2, 0.0],
                               atol=1e-6)
    np.testing.assert_allclose(encoded['target'][0], [-0.1, 0.0, 0.04],
                               atol=1e-6)
    for key in ('inputs', 'input_weight', 'target', 'target_weight'):
        assert encoded[key].dtype == np.float32


def test_invalid_joints_are_masked_not_the_mean():
    codec = LiftingCodec()
    kpts_2d, kpts_3d = random_hands(1)
    kpts_2d, kpts_3d = kpts_2d[0], kpts_3d[0]
    valid = np.ones(21, dtype=bool)
    valid[[3, 8]] = False
    kpts_2d[5] = np.nan  # missing 2D of a valid joint
    kpts_3d[8] = np.nan
    encoded = codec.encode(kpts_2d, kpts_3d, valid)
    np.testing.assert_array_equal(np.flatnonzero(encoded['input_weight'] == 0),
                                  [3, 5, 8])
    np.testing.assert_array_equal(encoded['inputs'][[3, 5, 8]], 0.0)
    np.testing.assert_array_equal(
        np.flatnonzero(encoded['target_weight'] == 0), [3, 8])
    np.testing.assert_array_equal(encoded['target'][[3, 8]], 0.0)
    assert np.isfinite(encoded['inputs']).all()
    assert np.isfinite(encoded['target']).all()


def test_default_validity_is_finite_coordinates():
    kpts_2d, kpts_3d = random_hands(1)
    kpts_2d[0, 4] = np.nan
    encoded = LiftingCodec().encode(kpts_2d[0])
    assert set(encoded) == {'inputs', 'input_weight'}
    assert encoded['input_weight'].sum() == 20 and encoded['input_weight'][4] == 0


def test_nan_wrist_invalidates_all_targets():
    kpts_2d, kpts_3d = random_hands(1)
    kpts_3d[0, 0] = np.nan
    encoded = LiftingCodec().encode(kpts_2d[0], kpts_3d[0],
                                    np.ones(21, dtype=bool))
    assert encoded['target_weight'].sum() == 0


def test_wrist_flagged_invalid_still_anchors_the_others():
    # The docstring's contract: only a non-finite wrist drops the hand.
    kpts_2d, kpts_3d = random_hands(1)
    valid = np.ones(21, dtype=bool)
    valid[0] = False
    encoded = LiftingCodec().encode(kpts_2d[0], kpts_3d[0], valid)
    np.testing.assert_array_equal(encoded['target_weight'], valid)


def test_round_trip_recovers_wrist_relative_mm():
    codec = LiftingCodec()
    kpts_2d, kpts_3d = random_hands(5)
    valid = np.random.default_rng(1).random((5, 21)) < 0.8
    encoded = codec.encode(kpts_2d, kpts_3d, valid)
    decoded = codec.decode(torch.from_numpy(encoded['target']).double())
    assert decoded.shape == (5, 21, 3) and decoded.dtype == torch.float64
    relative_mm = (kpts_3d - kpts_3d[:, :1]) * 1000
    mask = valid.copy()
    np.testing.assert_allclose(decoded.numpy()[mask], relative_mm[mask],
                               atol=1e-3)
    # The wrist is the origin.
    np.testing.assert_array_equal(decoded.numpy()[:, 0], 0.0)


def test_batched_encode_equals_per_sample():
    codec = LiftingCodec()
    kpts_2d, kpts_3d = random_hands(4)
    valid = np.random.default_rng(2).random((4, 21)) < 0.7
    batched = codec.encode(kpts_2d, kpts_3d, valid)
    for i in range(4):
        single = codec.encode(kpts_2d[i], kpts_3d[i], valid[i])
        for key, value in single.items():
            np.testing.assert_array_equal(batched[key][i], value)


def test_decode_keeps_device_dtype_and_gradients():
    pred = torch.randn(2, 21, 3, requires_grad=True)
    out = LiftingCodec().decode(pred)
    assert out.dtype == torch.float32
    out.sum().backward()
    # d(out)/d(pred) = std * 1000 except the wrist, which is fixed at 0.
    expected = torch.tensor([43.45, 53.92, 50.25]).expand(2, 21, 3).clone()
    expected[:, 0] = 0
    torch.testing.assert_close(pred.grad, expected)
    double = LiftingCodec().decode(pred.detach().double())
    assert double.dtype == torch.float64
    # the statistics follow the prediction's device ('meta': no data needed)
    meta = LiftingCodec().decode(torch.empty(2, 21, 3, device='meta'))
    assert meta.device.type == 'meta' and meta.shape == (2, 21, 3)


def test_build_from_registry_and_bad_statistics():
    codec = KEYPOINT_CODECS.build(dict(type='LiftingCodec'))
    np.testing.assert_allclose(codec.input_mean_px, (337.413, 511 - 282.579))
    with pytest.raises(ValueError, match='input_std_px must be positive'):
        LiftingCodec(input_std_px=(0.0, 1.0))
    with pytest.raises(ValueError, match='target_mean_m must be 3 finite'):
        LiftingCodec(target_mean_m=(0.0, 1.0))
