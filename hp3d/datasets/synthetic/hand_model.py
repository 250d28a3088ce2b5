"""Kinematic model of the 21-joint hand: subject shapes, joint angles, FK.

The hand is built in a local frame of a **right** hand, millimetres, origin at
the wrist: ``+X`` points to the ulnar side (towards the little finger), ``+Y``
distally along the hand (wrist -> middle MCP), ``+Z`` out of the back of the
hand (dorsal). A left hand is the mirror image (see :mod:`.hand_pose`).

Each of the five fingers is a chain of three rotations hanging off a fixed
base joint in the palm: the thumb CMC or the finger MCP. A chain has five
angles, in this order (:data:`ANGLE_NAMES`):

- ``abduction``: sideways swing of the first segment in the base frame,
  towards the ulnar side for the fingers; a negative thumb abduction lifts the
  thumb away from the palm (palmar abduction);
- ``roll``: axial rotation of the first segment (the thumb's opposition; 0
  for the fingers);
- ``flex_base``, ``flex_mid``, ``flex_tip``: hinge flexion at the three
  joints (MCP/PIP/DIP, or for the thumb CMC/MCP/IP), bending towards the palm.

Note:
    Shape symbols: ``N`` hands, ``K`` = 21 joints, ``F`` = 5 fingers.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..metainfo import FINGER_JOINTS, FINGERS, NUM_JOINTS, PARENTS

ANGLE_NAMES: Tuple[str, ...] = ('abduction', 'roll', 'flex_base', 'flex_mid',
                                'flex_tip')

# Joint angle limits in degrees, (F, 5 angles, [low, high]). Finger values
# follow the usual active ranges (MCP -25..95, PIP 0..110, DIP 0..90, small
# hyper-extension allowed); the thumb's CMC flexion/abduction/opposition and
# MCP/IP ranges are its active ranges. They keep every interior angle within
# the official annotation check (see :data:`INTERIOR_ANGLE_MIN_DEG`).
ANGLE_LIMITS_DEG = np.array([
    # abduction    roll        flex_base    flex_mid     flex_tip
    [[-60., 15.], [-20., 60.], [-20., 55.], [-15., 70.], [-20., 85.]],  # thumb
    [[-20., 20.], [0., 0.], [-25., 95.], [-5., 105.], [-10., 90.]],  # index
    [[-15., 15.], [0., 0.], [-25., 95.], [-5., 105.], [-10., 90.]],  # middle
    [[-15., 15.], [0., 0.], [-25., 95.], [-5., 105.], [-10., 90.]],  # ring
    [[-20., 25.], [0., 0.], [-25., 95.], [-5., 105.], [-10., 90.]],  # pinky
])

# The official Ego-Exo4D biomechanical check (interior angle at a joint between
# the bone to its parent and the bone to its child, degrees): joints below it
# are dropped from the annotations. Order: thumb CMC, MCP, IP, then MCP, PIP,
# DIP of index..pinky.
INTERIOR_ANGLE_JOINTS: Tuple[int, ...] = tuple(
    j for joints in FINGER_JOINTS.values() for j in joints[:3])
INTERIOR_ANGLE_MIN_DEG = np.array([100., 90., 90.] + [60., 70., 80.] * 4)

# Template adult right hand (mm, local frame). Bases: thumb CMC, then the MCPs
# of index..pinky (wrist -> MCP 81-91 mm: the palm bones' 60-120 mm range
# leaves room for the subject scale).
TEMPLATE_BASE_MM = np.array([
    [-20.0, 28.0, -12.0],
    [-22.0, 86.0, -1.0],
    [-3.0, 90.0, 1.0],
    [14.0, 85.0, -1.0],
    [29.0, 76.0, -5.0],
])
# Phalanx lengths (mm), base segment to tip segment.
TEMPLATE_LENGTHS_MM = np.array([
    [44.0, 32.0, 27.0],
    [40.0, 24.0, 20.0],
    [45.0, 28.0, 21.0],
    [42.0, 27.0, 20.0],
    [33.0, 20.0, 18.0],
])
# Segment radii (mm) for rendering and self-occlusion.
TEMPLATE_RADII_MM = np.array([
    [12.0, 10.0, 9.0],
    [9.5, 8.5, 7.5],
    [9.8, 8.7, 7.7],
    [9.2, 8.2, 7.3],
    [8.2, 7.3, 6.5],
])
# Half width of the wrist (mm) and the palm thickness (mm).
TEMPLATE_WRIST_HALF_WIDTH_MM = 26.0
TEMPLATE_PALM_THICKNESS_MM = 24.0
# Rest splay of index..pinky in the palm plane (degrees towards +X).
FINGER_SPLAY_DEG = np.array([-7.0, 0.0, 7.0, 15.0])
# Rest direction of the thumb metacarpal and of its nail (dorsal) side.
THUMB_REST_DIR = np.array([-0.55, 0.72, -0.42])
THUMB_REST_DORSAL = np.array([-0.75, -0.10, 0.65])


@dataclass
class HandShape:
    """Per-hand skeleton geometry in the local right-hand frame.

    Attributes:
        base_mm (np.ndarray): (N, F, 3) base joint of each finger (thumb CMC,
            finger MCPs), wrist at the origin.
        rest_frames (np.ndarray): (N, F, 3, 3) rest orientation of each chain;
            columns are the flexion axis, the segment direction and the
            segment's dorsal direction.
        lengths_mm (np.ndarray): (N, F, 3) phalanx lengths.
        radii_mm (np.ndarray): (N, F, 3) segment radii.
        wrist_half_width_mm (np.ndarray): (N,) half width of the wrist.
        palm_thickness_mm (np.ndarray): (N,) palm thickness.
    """

    base_mm: np.ndarray
    rest_frames: np.ndarray
    lengths_mm: np.ndarray
    radii_mm: np.ndarray
    wrist_half_width_mm: np.ndarray
    palm_thickness_mm: np.ndarray

    def __len__(self) -> int:
        return self.base_mm.shape[0]

    def take(self, index: np.ndarray) -> 'HandShape':
        """The shapes at ``index`` (an integer array or a boolean mask)."""
        return HandShape(*(getattr(self, name)[index] for name in (
            'base_mm', 'rest_frames', 'lengths_mm', 'radii_mm',
            'wrist_half_width_mm', 'palm_thickness_mm')))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rest_frames() -> np.ndarray:
    """(F, 3, 3) rest frames of the five chains (columns: flexion axis,
    segment direction, dorsal direction), right-handed."""
    frames = np.zeros((5, 3, 3))
    direction = _unit(THUMB_REST_DIR)
    dorsal = _unit(THUMB_REST_DORSAL - THUMB_REST_DORSAL @ direction *
                   direction)
    frames[0] = np.stack([np.cross(direction, dorsal), direction, dorsal], 1)
    splay = np.deg2rad(FINGER_SPLAY_DEG)
    for f, angle in enumerate(splay, start=1):
        direction = np.array([np.sin(angle), np.cos(angle), 0.0])
        dorsal = np.array([0.0, 0.0, 1.0])
        frames[f] = np.stack([np.cross(direction, dorsal), direction, dorsal],
                             1)
    return frames


def sample_hand_shapes(rng: np.random.Generator,
                       num: int,
                       palm_scale: float = 1.0,
                       palm_width_scale: float = 1.0,
                       finger_length_scale: float = 1.0,
                       thumb_length_scale: float = 1.0,
                       thumb_base_mm: Tuple[float, float, float] = (
                           -20.0, 28.0, -12.0),
                       wrist_offset_mm: Tuple[float, float, float] = (
                           0.0, 0.0, 0.0)) -> HandShape:
    """Sample ``num`` subject hand shapes.

    A subject scale (N(1, 0.05) clipped to 0.9-1.1) multiplies every length,
    and each bone gets its own +-5 % jitter, so bone lengths stay in the
    human (and the annotations' valid) ranges for ``palm_scale`` in
    0.9-1.08, ``palm_width_scale`` in 0.8-1.3 and finger scales in 0.9-1.15.

    Args:
        rng (np.random.Generator): random source.
        num (int): number of shapes N.
        palm_scale (float): scale of the MCP positions (palm size).
        palm_width_scale (float): extra scale of the MCPs' ulnar offsets
            (knuckle spacing).
        finger_length_scale (float): scale of index..pinky phalanges.
        thumb_length_scale (float): scale of the thumb's three bones.
        thumb_base_mm (tuple): thumb CMC position in the template hand.
        wrist_offset_mm (tuple): shift of all finger bases relative to the
            wrist joint (where the annotated wrist sits in the hand).

    Returns:
        HandShape: N shapes.
    """
    scale = np.clip(rng.normal(1.0, 0.05, num), 0.9, 1.1)
    base = np.array(TEMPLATE_BASE_MM) * palm_scale
    base[:, 0] *= palm_width_scale
    base[0] = thumb_base_mm
    base += wrist_offset_mm
    base_jitter = np.clip(rng.normal(1.0, 0.025, (num, 5, 1)), 0.95, 1.05)
    lengths = TEMPLATE_LENGTHS_MM * np.array(
        [[thumb_length_scale]] + [[finger_length_scale]] * 4)
    length_jitter = np.clip(rng.normal(1.0, 0.025, (num, 5, 3)), 0.95,
                            1.05)
    width = np.clip(rng.normal(1.0, 0.05, num), 0.9, 1.1) * scale
    return HandShape(
        base_mm=base[None] * scale[:, None, None] * base_jitter,
        rest_frames=np.broadcast_to(rest_frames(), (num, 5, 3, 3)).copy(),
        lengths_mm=lengths[None] * scale[:, None, None] * length_jitter,
        radii_mm=TEMPLATE_RADII_MM[None] * width[:, None, None],
        wrist_half_width_mm=TEMPLATE_WRIST_HALF_WIDTH_MM * width,
        palm_thickness_mm=TEMPLATE_PALM_THICKNESS_MM * width)


def axis_rotation(angle: np.ndarray, axis: int) -> np.ndarray:
    """(..., 3, 3) right-handed rotations by ``angle`` (rad) about a basis
    axis (0 = x, 1 = y, 2 = z)."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.zeros(np.shape(angle) + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    rot[..., axis, axis] = 1.0
    rot[..., i, i] = c
    rot[..., j, j] = c
    rot[..., i, j] = -s
    rot[..., j, i] = s
    return rot


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices from (..., 3) axis-angle vectors (rad)."""
    angle = np.linalg.norm(rotvec, axis=-1)
    axis = rotvec / np.maximum(angle, 1e-12)[..., None]
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    cross = np.stack([zero, -z, y, z, zero, -x, -y, x, zero],
                     -1).reshape(angle.shape + (3, 3))
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * cross + (1 - c) * cross @ cross


def forward_kinematics(shape: HandShape,
                       angles_rad: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Joint positions and segment orientations of posed hands.

    Args:
        shape (HandShape): N hand shapes.
        angles_rad (np.ndarray): (N, F, 5) chain angles in radians, in the
            order of :data:`ANGLE_NAMES`.

    Returns:
        tuple:
        - joints_mm (np.ndarray): (N, K, 3) joints in the local right-hand
          frame, official joint order.
        - segment_frames (np.ndarray): (N, F, 3, 3, 3) orientation of each
          finger segment (columns: flexion axis, direction, dorsal side).
    """
    num = len(shape)
    joints = np.zeros((num, NUM_JOINTS, 3))
    frames = np.zeros((num, 5, 3, 3, 3))
    for f, finger in enumerate(FINGERS):
        abduction, roll, *flexion = np.moveaxis(angles_rad[:, f], -1, 0)
        # Abduction swings the segment towards its +flexion-axis side, roll
        # turns it about itself, flexion bends it towards -dorsal (the palm).
        rot = (shape.rest_frames[:, f] @ axis_rotation(-abduction, 2)
               @ axis_rotation(roll, 1))
        position = shape.base_mm[:, f]
        chain = FINGER_JOINTS[finger]
        joints[:, chain[0]] = position
        for k in range(3):
            rot = rot @ axis_rotation(-flexion[k], 0)
            position = position + shape.lengths_mm[:, f, k, None] * rot[..., 1]
            joints[:, chain[k + 1]] = position
            frames[:, f, k] = rot
    return joints, frames


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(..., K - 1) length of the bone ending at each non-wrist joint."""
    parents = np.array(PARENTS[1:])
    return np.linalg.norm(joints[..., 1:, :] - joints[..., parents, :], axis=-1)


def interior_angles_deg(joints: np.ndarray) -> np.ndarray:
    """(..., 15) interior angles at :data:`INTERIOR_ANGLE_JOINTS` (degrees).

    The angle at a joint between the bones to its parent and to its child;
    180 is a straight finger.
    """
    idx = np.array(INTERIOR_ANGLE_JOINTS)
    parents = np.array(PARENTS)[idx]
    to_parent = joints[..., parents, :] - joints[..., idx, :]
    to_child = joints[..., idx + 1, :] - joints[..., idx, :]
    cos = np.sum(_unit(to_parent) * _unit(to_child), axis=-1)
    return np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))


__all__ = [
    'ANGLE_NAMES', 'ANGLE_LIMITS_DEG', 'INTERIOR_ANGLE_JOINTS',
    'INTERIOR_ANGLE_MIN_DEG', 'HandShape', 'rest_frames', 'sample_hand_shapes',
    'axis_rotation', 'rotvec_to_matrix', 'forward_kinematics', 'bone_lengths',
    'interior_angles_deg'
]
