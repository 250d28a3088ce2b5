"""Synthetic hands: kinematics, pose prior, motion, visibility, boxes."""
import numpy as np
import pytest

from hp3d.datasets.camera import default_intrinsics
from hp3d.datasets.metainfo import (
    BONE_RANGE_MM,
    FINGER_JOINTS,
    PALM_BONE_RANGE_MM,
    PALM_BONES,
    SKELETON,
)
from hp3d.datasets.synthetic import (
    ANGLE_LIMITS_DEG,
    INTERIOR_ANGLE_MIN_DEG,
    LATENT_DIM,
    HandPoses,
    PosePrior,
    bone_lengths,
    forward_kinematics,
    interior_angles_deg,
    intrinsics_for,
    latents_to_angles,
    padded_keypoint_boxes,
    pose_hands,
    random_test_boxes,
    sample_frame_numbers,
    sample_hand_shapes,
    sample_presence,
    smooth_latents,
    smooth_noise,
    split_counts,
)
from hp3d.datasets.synthetic.hand_model import TEMPLATE_LENGTHS_MM
from hp3d.datasets.synthetic.visibility import points_in_polygons, self_occluded


def _shapes(num, seed=0):
    return sample_hand_shapes(np.random.default_rng(seed), num)


def test_forward_kinematics_straight_and_flexed():
    shape = _shapes(1)
    joints, frames = forward_kinematics(shape, np.zeros((1, 5, 5)))
    middle = FINGER_JOINTS['middle']
    # Straight middle finger (splay 0): along +Y from its MCP, bones summed.
    tip = shape.base_mm[0, 2] + [0, shape.lengths_mm[0, 2].sum(), 0]
    np.testing.assert_allclose(joints[0, middle[3]], tip, atol=1e-9)
    # 90 deg MCP flexion turns the whole finger towards the palm (-Z).
    angles = np.zeros((1, 5, 5))
    angles[0, 2, 2] = np.pi / 2
    flexed, frames = forward_kinematics(shape, angles)
    pip = shape.base_mm[0, 2] - [0, 0, shape.lengths_mm[0, 2, 0]]
    np.testing.assert_allclose(flexed[0, middle[1]], pip, atol=1e-9)
    # Segment frames stay rotations.
    rot = frames[0].reshape(-1, 3, 3)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, 1, 2),
                               np.broadcast_to(np.eye(3), rot.shape),
                               atol=1e-9)


def test_shapes_bone_lengths_in_human_ranges():
    shape = _shapes(2000)
    joints, _ = forward_kinematics(shape, np.zeros((2000, 5, 5)))
    lengths = bone_lengths(joints)
    palm = [child - 1 for parent, child in SKELETON if (parent, child) in
            PALM_BONES]
    other = [i for i in range(20) if i not in palm]
    assert lengths[:, palm].min() >= PALM_BONE_RANGE_MM[0]
    assert lengths[:, palm].max() <= PALM_BONE_RANGE_MM[1]
    assert lengths[:, other].min() >= BONE_RANGE_MM[0]
    assert lengths[:, other].max() <= BONE_RANGE_MM[1]
    # Subjects differ.
    assert lengths[:, 0].std() > 1.0
    assert TEMPLATE_LENGTHS_MM.max() < BONE_RANGE_MM[1]


def test_latents_to_angles_within_limits():
    z = np.random.default_rng(1).standard_normal((5000, LATENT_DIM)) * 3
    angles = np.rad2deg(latents_to_angles(PosePrior(), z))
    assert (angles >= ANGLE_LIMITS_DEG[..., 0] - 1e-9).all()
    assert (angles <= ANGLE_LIMITS_DEG[..., 1] + 1e-9).all()
    # Fingers have no roll; they do flex.
    assert (angles[:, 1:, 1] == 0).all()
    assert angles[:, 1:, 2:].std() > 5


def test_posed_hands_mirror_and_official_angle_check():
    rng = np.random.default_rng(2)
    shape = _shapes(1).take(np.zeros(2, dtype=int))
    z = np.repeat(rng.standard_normal((1, LATENT_DIM)), 2, axis=0)
    cam_K = intrinsics_for(512)
    hands = pose_hands(shape, z, np.array([False, True]), PosePrior(), cam_K)
    right, left = hands.joints_m
    rel_r, rel_l = right - right[0], left - left[0]
    # The left hand is the right one mirrored in the camera's y.
    np.testing.assert_allclose(rel_l, rel_r * [1, -1, 1], atol=1e-12)
    assert np.linalg.det(hands.palm_frame[0]) == pytest.approx(1)
    assert np.linalg.det(hands.palm_frame[1]) == pytest.approx(-1)
    # Every sampled pose passes the official biomechanical angle check.
    many = pose_hands(_shapes(3000, 3), np.random.default_rng(3)
                      .standard_normal((3000, LATENT_DIM)),
                      np.zeros(3000, bool), PosePrior(), cam_K)
    assert (interior_angles_deg(many.joints_m) >=
            INTERIOR_ANGLE_MIN_DEG - 1e-6).all()


def test_intrinsics():
    np.testing.assert_allclose(intrinsics_for(512), default_intrinsics())
    np.testing.assert_allclose(intrinsics_for(256)[[0, 0, 1], [0, 2, 2]],
                               [75.0, 127.5, 127.5])


def test_smooth_noise_is_standard_normal_and_smooth():
    rng = np.random.default_rng(4)
    frames = np.arange(0, 3 * 4000, 3)
    x = smooth_noise(rng, frames, 2, sigma_frames=6.0)
    assert x.mean() == pytest.approx(0, abs=0.15)
    assert x.std() == pytest.approx(1, abs=0.1)
    # Correlation of values d = 3 frames apart: exp(-d^2 / (4 sigma^2)).
    corr = np.corrcoef(x[:-1, 0], x[1:, 0])[0, 1]
    assert corr == pytest.approx(np.exp(-9 / 144), abs=0.03)
    z = smooth_latents(rng, frames[:500], LATENT_DIM)
    assert z.shape == (500, LATENT_DIM)
    assert np.abs(np.diff(z, axis=0)).mean() < 0.5 * np.abs(
        z[rng.permutation(500)] - z).mean()


def test_frame_numbers_and_presence():
    rng = np.random.default_rng(5)
    frames = sample_frame_numbers(rng, 200)
    assert set(np.diff(frames).tolist()) <= {3, 6, 9, 12}
    assert (np.diff(frames) == 3).mean() > 0.6
    present = sample_presence(rng, 5000, 0.85)
    assert 0.8 < present.mean() < 0.9
    # Runs, not independent flips.
    assert (present[1:] != present[:-1]).mean() < 0.1


@pytest.mark.parametrize('takes,expected', [(1, (1, 0, 0)), (2, (1, 0, 1)),
                                            (3, (1, 1, 1)), (40, (28, 6, 6)),
                                            (200, (140, 30, 30))])
def test_split_counts(takes, expected):
    assert split_counts(takes) == expected


def test_padded_boxes_hand_computed():
    kp = np.array([[[10.0, 30.0], [100.0, 50.0], [505.0, 5.0]]])
    valid = np.array([[True, True, False]])
    box = padded_keypoint_boxes(kp, valid, 512)
    np.testing.assert_allclose(box, [[0.0, 10.0, 120.0, 70.0]])
    box = padded_keypoint_boxes(kp, np.ones((1, 3), bool), 512)
    np.testing.assert_allclose(box, [[0.0, 0.0, 511.0, 70.0]])


def test_random_test_boxes_follow_official_rule():
    rng = np.random.default_rng(6)
    kp = np.array([[[200.0, 200.0], [260.0, 240.0]]] * 2000)
    boxes = random_test_boxes(rng, kp, np.ones((2000, 2), bool), 512)
    size = boxes[:, 2:] - boxes[:, :2]
    center = (boxes[:, 2:] + boxes[:, :2]) / 2
    # Keypoint box 60 x 40, x1.5 = 90 x 60, sides x U(0.9, 1.1), centre
    # shifted by U(-0.1, 0.1) of the expanded side.
    assert size[:, 0].min() >= 81 - 1e-9 and size[:, 0].max() <= 99 + 1e-9
    assert size[:, 1].min() >= 54 - 1e-9 and size[:, 1].max() <= 66 + 1e-9
    assert np.abs(center[:, 0] - 230).max() <= 9 + 1e-9
    assert np.abs(center[:, 1] - 220).max() <= 6 + 1e-9
    assert size[:, 0].std() > 4 and np.abs(center[:, 0] - 230).mean() > 3
    edge = random_test_boxes(rng, kp + 300, np.ones((2000, 2), bool), 512)
    assert edge.max() == 511


def test_points_in_polygons():
    square = np.array([[[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]])
    points = np.array([[[5.0, 5.0], [15.0, 5.0], [-1.0, 2.0], [9.9, 0.1]]])
    assert points_in_polygons(points, square).tolist() == [[True, False,
                                                            False, True]]


def _flat_hand(rotation, tip_behind_mm):
    """A flat hand 30 cm in front of the camera (local frame rotated by
    ``rotation``: columns ulnar, distal, dorsal), its index tip moved to the
    palm's centre, ``tip_behind_mm`` on the volar side of the palm."""
    shape = _shapes(1)
    local, frames = forward_kinematics(shape, np.zeros((1, 5, 5)))
    local = local[0]
    palm = local[[0, 5, 9, 13, 17]].mean(0)
    local[FINGER_JOINTS['index'][3]] = palm - [0.0, 0.0, tip_behind_mm]
    joints = local @ rotation.T / 1000.0 + [0.0, 0.0, 0.3]
    return HandPoses(joints_m=joints[None], palm_frame=rotation[None],
                     segment_frames=rotation @ frames,
                     is_left=np.zeros(1, bool), shape=shape)


def test_joint_behind_the_palm_is_occluded():
    cam_K = intrinsics_for(512)
    tip = FINGER_JOINTS['index'][3]
    # Back of the hand to the camera (dorsal = -z), fingers pointing left.
    back = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    assert np.linalg.det(back) == pytest.approx(1)
    assert self_occluded(_flat_hand(back, 40.0), cam_K)[0, tip]
    # Just under the palm's surface it is not clearly hidden.
    assert not self_occluded(_flat_hand(back, 10.0), cam_K)[0, tip]
    # Palm to the camera: the same joint is in front of the palm.
    palm = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    occluded = self_occluded(_flat_hand(palm, 40.0), cam_K)
    assert not occluded[0, tip]
    # A flat hand hides nothing else.
    assert not np.delete(occluded[0], tip).any()
