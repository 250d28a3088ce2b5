import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hp3d.datasets.metainfo import FINGER_COLORS, SKELETON
from hp3d.visualization import (
    VIEWS,
    plot_skeleton_3d,
    set_axes_3d,
    skeleton_segments_3d,
)


@pytest.fixture
def ax():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot(projection='3d')


def test_segments_are_wrist_relative_in_axes_order(hand_mm):
    points, drawable, bones = skeleton_segments_3d(hand_mm)
    relative = hand_mm - hand_mm[0]
    # Axes (X, Y, Z) = camera (x, z, -y).
    np.testing.assert_allclose(points[:, 0], relative[:, 0])
    np.testing.assert_allclose(points[:, 1], relative[:, 2])
    np.testing.assert_allclose(points[:, 2], -relative[:, 1])
    assert drawable.all() and list(bones) == list(range(len(SKELETON)))


def test_invalid_joints_drop_their_bones(hand_mm):
    valid = np.ones(21, dtype=bool)
    valid[[4, 8]] = False  # thumb and index tips: one bone each
    hand_mm[5] = np.nan  # index base: bones 0-5 and 5-6
    _, drawable, bones = skeleton_segments_3d(hand_mm, valid)
    assert np.flatnonzero(~drawable).tolist() == [4, 5, 8]
    dropped = set(range(len(SKELETON))) - set(bones.tolist())
    assert {SKELETON[b] for b in dropped} == {(3, 4), (0, 5), (5, 6), (7, 8)}


def test_plot_draws_one_collection_per_skeleton(ax, hand_mm):
    lines, joints = plot_skeleton_3d(ax, hand_mm, label='GT')
    ax.figure.canvas.draw()  # projects the segments
    assert lines.get_label() == 'GT' and len(lines.get_segments()) == 20
    np.testing.assert_allclose(lines.get_colors()[4],  # index_1 -> index_2
                               [*np.divide(FINGER_COLORS['index'], 255), 1])
    assert len(joints.get_offsets()) == 21
    valid = np.ones(21, dtype=bool)
    valid[20] = False
    lines, joints = plot_skeleton_3d(ax, hand_mm, valid, color='k')
    ax.figure.canvas.draw()
    assert len(lines.get_segments()) == 19 and len(joints.get_offsets()) == 20
    np.testing.assert_allclose(lines.get_colors(), [[0, 0, 0, 1]])


def test_wrist_must_be_finite(ax, hand_mm):
    hand_mm[0] = np.nan
    with pytest.raises(ValueError, match='wrist'):
        plot_skeleton_3d(ax, hand_mm)


def test_axes_are_a_fixed_cube(ax):
    set_axes_3d(ax, 'side', center_mm=(0.0, 10.0, 50.0), radius_mm=100.0)
    assert ax.get_xlim() == pytest.approx((-100.0, 100.0))
    assert ax.get_ylim() == pytest.approx((-50.0, 150.0))  # camera z
    assert ax.get_zlim() == pytest.approx((-110.0, 90.0))  # camera -y
    assert (ax.elev, ax.azim) == pytest.approx(VIEWS['side'])
    assert ax.get_title() == 'side view'
    with pytest.raises(ValueError, match='view'):
        set_axes_3d(ax, 'bottom')
