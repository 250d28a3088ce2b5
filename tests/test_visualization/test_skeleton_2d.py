import numpy as np
import pytest

from hp3d.datasets.metainfo import FINGER_COLORS, FINGER_JOINTS, SKELETON, WRIST
from hp3d.visualization import draw_skeleton_2d

SIZE = 200
RADIUS, THICKNESS = 3, 2


def spread_hand_px() -> np.ndarray:
    """(21, 2) joints 30 px apart: wrist at the bottom, fingers upwards."""
    points = np.zeros((21, 2))
    points[WRIST] = (100, 185)
    for f, joints in enumerate(FINGER_JOINTS.values()):
        for i, j in enumerate(joints):
            points[j] = (20 + 40 * f, 140 - 30 * i)
    return points


def bgr(rgb):
    return np.array(rgb[::-1], dtype=np.uint8)


def distance_to_segment(pixels, a, b):
    ab = b - a
    t = np.clip(((pixels - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(pixels - (a + t[:, None] * ab), axis=1)


@pytest.fixture
def blank():
    return np.zeros((SIZE, SIZE, 3), dtype=np.uint8)


def test_joint_centres_have_their_finger_colour(blank):
    points = spread_hand_px()
    out = draw_skeleton_2d(blank, points)
    for finger, joints in FINGER_JOINTS.items():
        for j in joints:
            x, y = points[j].astype(int)
            np.testing.assert_array_equal(out[y, x], bgr(FINGER_COLORS[finger]))
    # A bone's midpoint carries its finger's colour too.
    x, y = ((points[5] + points[6]) / 2).astype(int)
    np.testing.assert_array_equal(out[y, x], bgr(FINGER_COLORS['index']))
    assert not blank.any(), 'the input image must not be modified'


def test_only_pixels_near_the_skeleton_change(blank):
    points = spread_hand_px()
    out = draw_skeleton_2d(blank, points, radius=RADIUS, thickness=THICKNESS)
    ys, xs = np.nonzero(out.any(axis=2))
    pixels = np.stack([xs, ys], axis=1).astype(float)
    near = np.full(len(pixels), np.inf)
    for parent, child in SKELETON:
        near = np.minimum(near, distance_to_segment(pixels, points[parent],
                                                    points[child]))
    # Anti-aliased edges reach one pixel beyond the nominal radius.
    assert near.max() <= RADIUS + 1.5
    assert len(pixels) > 20 * 30  # 20 bones of >= 30 px were drawn


def test_invalid_joints_and_their_bones_are_skipped(blank):
    points = spread_hand_px()
    valid = np.ones(21, dtype=bool)
    valid[6] = False  # index_2: bones 5-6 and 6-7 go
    points[12] = np.nan  # middle tip, non-finite: bone 11-12 goes
    out = draw_skeleton_2d(blank, points, valid)
    x, y = points[6].astype(int)
    assert not out[y, x].any()
    drawn = spread_hand_px()
    for a, b in ((5, 6), (6, 7), (11, 12)):
        x, y = ((drawn[a] + drawn[b]) / 2).astype(int)
        assert not out[y, x].any()
    x, y = ((points[7] + points[8]) / 2).astype(int)
    np.testing.assert_array_equal(out[y, x], bgr(FINGER_COLORS['index']))
    nothing = draw_skeleton_2d(blank, points, np.zeros(21, dtype=bool))
    assert not nothing.any()


def test_single_colour_and_subpixel_position(blank):
    points = spread_hand_px() + 0.5
    out = draw_skeleton_2d(blank, points, color=(10, 20, 30))
    x, y = np.floor(points[9]).astype(int)
    np.testing.assert_array_equal(out[y, x], [30, 20, 10])


@pytest.mark.parametrize('image, points, valid', [
    (np.zeros((8, 8), np.uint8), np.zeros((21, 2)), None),
    (np.zeros((8, 8, 3), np.float32), np.zeros((21, 2)), None),
    (np.zeros((8, 8, 3), np.uint8), np.zeros((20, 2)), None),
    (np.zeros((8, 8, 3), np.uint8), np.zeros((21, 2)), np.ones(20, bool)),
])
def test_bad_input_raises(image, points, valid):
    with pytest.raises(ValueError):
        draw_skeleton_2d(image, points, valid)
