import json
import os

import numpy as np
import pytest
import torch

from hp3d.codecs import DEFAULT_JOINT_STATS_FILE, Pose3DCodec
from hp3d.datasets.metainfo import MIRROR_AXIS
from hp3d.registry import KEYPOINT_CODECS

SHARED_STATS = os.path.join(os.path.dirname(__file__), '..', 'data',
                            'egoexo4d_public', 'real_joint_stats_mm.json')


def random_hands(n, seed=0):
    rng = np.random.default_rng(seed)
    wrist = rng.normal([0.0, 0.1, 0.4], 0.05, (n, 1, 3))
    kpts = wrist + rng.normal(0.0, 0.04, (n, 21, 3))
    kpts[:, 0] = wrist[:, 0]
    return kpts


def test_shipped_table_is_the_official_one():
    with open(DEFAULT_JOINT_STATS_FILE) as f:
        shipped = json.load(f)
    with open(SHARED_STATS) as f:
        assert json.load(f) == shipped
    codec = Pose3DCodec()
    assert codec.stats_file == DEFAULT_JOINT_STATS_FILE
    np.testing.assert_allclose(codec.mean_mm[1], [-3.950165, -0.86685377,
                                                  24.517984])
    # Wrist std is 0 in the table: clamped to eps_mm.
    np.testing.assert_array_equal(codec.std_mm[0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(codec.std_mm[20], [36.893555, 38.98199,
                                                  36.001797])


def test_encode_hand_computed_values():
    mean = np.zeros((21, 3))
    mean[1] = [10.0, 0.0, 0.0]
    std = np.full((21, 3), 5.0)
    std[0] = 0.0
    codec = Pose3DCodec(mean_mm=mean, std_mm=std, eps_mm=0.5)
    kpts = np.zeros((21, 3))
    kpts[:] = [0.1, 0.2, 0.3]
    kpts[1] = [0.12, 0.19, 0.3]  # wrist-relative (20, -10, 0) mm
    encoded = codec.encode(kpts, np.ones(21, dtype=bool))
    np.testing.assert_allclose(encoded['target'][1], [2.0, -2.0, 0.0],
                               atol=1e-5)
    np.testing.assert_array_equal(encoded['target'][0], 0.0)
    flipped = codec.encode(kpts, np.ones(21, dtype=bool), flip=True)
    # mirrored across camera y: (20, -10, 0) -> (20, 10, 0) mm
    np.testing.assert_allclose(flipped['target'][1], [2.0, 2.0, 0.0],
                               atol=1e-5)


def test_round_trip_with_invalid_joints_and_flip():
    codec = Pose3DCodec()
    kpts = random_hands(6)
    valid = np.random.default_rng(3).random((6, 21)) < 0.8
    valid[:, 0] = True
    kpts[~valid] = np.nan
    kpts[:, 0] = random_hands(6)[:, 0]
    flip = np.array([False, True, False, True, True, False])
    encoded = codec.encode(kpts, valid, flip=flip)
    np.testing.assert_array_equal(encoded['target_weight'], valid)
    assert np.isfinite(encoded['target']).all()
    np.testing.assert_array_equal(encoded['target'][~valid], 0.0)

    relative_mm = (kpts - kpts[:, :1]) * 1000
    decoded = codec.decode(torch.from_numpy(encoded['target']).double()).numpy()
    # flipped samples come back mirrored (the estimator mirrors them back)
    decoded[flip, :, MIRROR_AXIS] *= -1
    np.testing.assert_allclose(decoded[valid], relative_mm[valid], atol=1e-3)


def test_only_a_missing_wrist_drops_the_whole_hand():
    codec = Pose3DCodec()
    kpts = random_hands(2)
    valid = np.ones((2, 21), dtype=bool)
    valid[0, 0] = False  # flagged invalid, finite: still the origin
    kpts[1, 0] = np.nan
    weight = codec.encode(kpts, valid)['target_weight']
    np.testing.assert_array_equal(weight[0], valid[0])
    np.testing.assert_array_equal(weight[1], 0.0)


def test_single_and_batched_encode_agree():
    codec = Pose3DCodec()
    kpts = random_hands(3)
    valid = np.ones((3, 21), dtype=bool)
    batched = codec.encode(kpts, valid, flip=True)
    single = codec.encode(kpts[2], valid[2], flip=True)
    np.testing.assert_array_equal(batched['target'][2], single['target'])
    assert single['target'].shape == (21, 3)
    assert single['target_weight'].dtype == np.float32


def test_stats_file_relative_to_cwd(tmp_path, monkeypatch):
    table = dict(joint_mean_mm=np.ones((21, 3)).tolist(),
                 joint_std_mm=np.full((21, 3), 2.0).tolist())
    (tmp_path / 'stats.json').write_text(json.dumps(table))
    monkeypatch.chdir(tmp_path)
    codec = KEYPOINT_CODECS.build(
        dict(type='Pose3DCodec', stats_file='stats.json'))
    np.testing.assert_array_equal(codec.mean_mm, 1.0)
    with pytest.raises(FileNotFoundError, match='missing.json.*resolved to'):
        Pose3DCodec(stats_file='missing.json')


def test_bad_arguments():
    with pytest.raises(ValueError, match='both mean_mm and std_mm'):
        Pose3DCodec(mean_mm=np.zeros((21, 3)))
    with pytest.raises(ValueError, match='21x3'):
        Pose3DCodec(mean_mm=np.zeros((20, 3)), std_mm=np.ones((20, 3)))
    with pytest.raises(ValueError, match='not both'):
        Pose3DCodec(stats_file=DEFAULT_JOINT_STATS_FILE,
                    mean_mm=np.zeros((21, 3)), std_mm=np.ones((21, 3)))
