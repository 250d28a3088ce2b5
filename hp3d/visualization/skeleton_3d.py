"""Draw a 3D hand skeleton on a matplotlib 3D axes, in wrist-relative mm.

Camera coordinates are x right, y down, z forward. The axes show camera x
horizontally, camera z as depth and camera -y upwards (tick labels show y
itself), so that the front view is what the camera sees, upright.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib.artist import Artist
from matplotlib.ticker import FuncFormatter, MaxNLocator
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from hp3d.datasets.metainfo import (
    NUM_JOINTS,
    SKELETON,
    WRIST,
    bone_colors,
    joint_colors,
)

# (elevation, azimuth) in degrees of each named view of :func:`set_axes_3d`,
# tilted 15-25 degrees off the principal axes so that depth stays readable:
# 'front' looks along camera +z (what the camera sees), 'side' along camera
# -x, 'top' down along camera +y; 'oblique' is matplotlib's default angle.
VIEWS: Dict[str, Tuple[float, float]] = {
    'front': (12.0, -78.0),
    'side': (12.0, -12.0),
    'top': (90.0, -90.0),
    'oblique': (30.0, -60.0),
}
# Views at least this steep (degrees) hide the vertical axis' ticks.
_STEEP_ELEV = 60.0
# The fixed cube, centred on the wrist: fingers reach up to ~175 mm from it
# (real train split: fingertips at z = 117 +- 25 mm), in any direction
# depending on the data (left/right hands, synthetic poses).
DEFAULT_CENTER_MM = (0.0, 0.0, 0.0)
DEFAULT_RADIUS_MM = 150.0
_WRIST_RGB = (0.45, 0.45, 0.45)


def _to_axes(points_mm: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Camera (x, y, z) -> axes (X, Y, Z) = (x, z, -y)."""
    return points_mm[..., 0], points_mm[..., 2], -points_mm[..., 1]


def set_axes_3d(ax,
                view: str = 'front',
                center_mm: Sequence[float] = DEFAULT_CENTER_MM,
                radius_mm: float = DEFAULT_RADIUS_MM,
                title: Optional[str] = None) -> None:
    """Fix a 3D axes to a cube in wrist-relative mm and a named view.

    Args:
        ax (mpl_toolkits.mplot3d.Axes3D): the axes.
        view (str): a key of :data:`VIEWS`. Defaults to 'front'.
        center_mm (Sequence[float]): cube centre (x, y, z), wrist-relative
            camera axes in mm.
        radius_mm (float): half-width of the cube in mm.
        title (str, optional): axes title. Defaults to the view's name.
    """
    if view not in VIEWS:
        raise ValueError(f'Unknown view {view!r}, expected one of '
                         f'{sorted(VIEWS)}')
    cx, cy, cz = (float(c) for c in center_mm)
    ax.set_xlim(cx - radius_mm, cx + radius_mm)
    ax.set_ylim(cz - radius_mm, cz + radius_mm)
    ax.set_zlim(-cy - radius_mm, -cy + radius_mm)
    ax.set_box_aspect((1.0, 1.0, 1.0), zoom=1.05)
    ax.set_proj_type('ortho')
    elev, azim = VIEWS[view]
    ax.view_init(elev=elev, azim=azim)
    # Axes (X, Y, Z) show camera (x, z, -y); label Z with y's values.
    ax.zaxis.set_major_formatter(FuncFormatter(lambda v, _: f'{0.0 - v:g}'))
    for axis, label in ((ax.xaxis, 'x (mm)'), (ax.yaxis, 'z (mm)'),
                        (ax.zaxis, 'y (mm)')):
        axis.set_major_locator(MaxNLocator(4, steps=[1, 2, 5, 10]))
        axis.set_label_text(label, fontsize=8)
        axis.labelpad = -2
    if abs(elev) >= _STEEP_ELEV:
        # Seen from above, the vertical axis shrinks to a cluttered stub.
        ax.zaxis.set_ticks([])
        ax.zaxis.set_label_text('')
    ax.tick_params(labelsize=7, pad=0)
    ax.set_title(title if title is not None else f'{view} view', fontsize=10)


def skeleton_segments_3d(keypoints_mm: np.ndarray,
                         valid: Optional[np.ndarray] = None
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wrist-relative joints and bones of a hand, in the axes' coordinates.

    Args:
        keypoints_mm (np.ndarray): (K, 3) joints in mm, camera axes; the
            wrist (joint 0) must be finite.
        valid (np.ndarray, optional): (K,) bool, False for joints to skip.
            Defaults to all finite joints.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: ``points`` (K, 3)
        wrist-relative joints as axes (X, Y, Z) = camera (x, z, -y);
        ``drawable`` (K,) bool; ``bones`` (N,) indices into
        :data:`SKELETON` of the bones whose both ends are drawable.
    """
    keypoints_mm = np.asarray(keypoints_mm, dtype=np.float64)
    if keypoints_mm.shape != (NUM_JOINTS, 3):
        raise ValueError(f'keypoints_mm must be ({NUM_JOINTS}, 3), '
                         f'got {keypoints_mm.shape}')
    if not np.isfinite(keypoints_mm[WRIST]).all():
        raise ValueError('A finite wrist is needed to plot wrist-relative '
                         f'joints, got {keypoints_mm[WRIST]}')
    drawable = np.isfinite(keypoints_mm).all(axis=1)
    if valid is not None:
        drawable &= np.asarray(valid, dtype=bool)
    points = np.stack(_to_axes(keypoints_mm - keypoints_mm[WRIST]), axis=-1)
    bones = np.array([b for b, (parent, child) in enumerate(SKELETON)
                      if drawable[parent] and drawable[child]], dtype=np.int64)
    return points, drawable, bones


def plot_skeleton_3d(ax,
                     keypoints_mm: np.ndarray,
                     valid: Optional[np.ndarray] = None,
                     color: Optional[str] = None,
                     label: Optional[str] = None,
                     linestyle: str = '-',
                     linewidth: float = 1.8,
                     marker_size: float = 12.0) -> List[Artist]:
    """Plot a 21-joint hand, wrist-relative, on a 3D axes.

    The wrist is subtracted first, so camera-frame joints and wrist-relative
    predictions land on the same wrist-centred axes (see :func:`set_axes_3d`).
    Invalid or non-finite joints and the bones that touch them are skipped.

    Args:
        ax (mpl_toolkits.mplot3d.Axes3D): the axes.
        keypoints_mm (np.ndarray): (K, 3) joints in mm, camera axes; the
            wrist (joint 0) must be finite.
        valid (np.ndarray, optional): (K,) bool, False for joints to skip.
            Defaults to all finite joints.
        color (str, optional): one matplotlib colour for the whole skeleton.
            Defaults to per-finger colours (``metainfo.FINGER_COLORS``).
        label (str, optional): legend label of the bones.
        linestyle (str): bone line style. Defaults to '-'.
        linewidth (float): bone width in points. Defaults to 1.8.
        marker_size (float): joint marker area in points^2.

    Returns:
        list[Artist]: the bones (one ``Line3DCollection``) and the joints
        (one scatter).
    """
    points, drawable, bones = skeleton_segments_3d(keypoints_mm, valid)
    bone_rgb = np.array(bone_colors(), dtype=np.float64) / 255.0
    joint_rgb = np.array(joint_colors(), dtype=np.float64) / 255.0
    # The palette's light-grey wrist vanishes on a white figure: darken it.
    joint_rgb[WRIST] = _WRIST_RGB
    segments = [points[list(SKELETON[b])] for b in bones]
    # One collection for all bones: a line per bone costs ~10 ms to draw.
    lines = Line3DCollection(segments,
                             colors=color or bone_rgb[bones],
                             linestyles=linestyle, linewidths=linewidth,
                             label=label)
    ax.add_collection3d(lines)
    joints = points[drawable]
    scatter = ax.scatter(joints[:, 0], joints[:, 1], joints[:, 2],
                         s=marker_size, depthshade=False,
                         c=color or joint_rgb[drawable])
    return [lines, scatter]


__all__ = ['VIEWS', 'DEFAULT_CENTER_MM', 'DEFAULT_RADIUS_MM', 'set_axes_3d',
           'skeleton_segments_3d', 'plot_skeleton_3d']
