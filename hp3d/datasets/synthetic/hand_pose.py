"""Hands placed in the camera: 3D joints, surface geometry, projection.

:func:`pose_hands` turns subject shapes and pose latents into camera-frame
hands (metres, the Aria camera's axes: x right, y down, z forward in the
native landscape image). A left hand is the mirror image ``y -> -y`` of a
right hand: in the native Aria view the wearer's left-right axis is the
camera's y axis (the portrait view rotates it upright).

Note:
    Shape symbols: ``N`` hands, ``K`` = 21 joints, ``F`` = 5 fingers,
    ``V`` palm outline vertices, ``S`` = 15 finger segments.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..camera import FOCAL_PX, IMAGE_SIZE_PX
from ..metainfo import FINGER_JOINTS, FINGERS, SKELETON, WRIST
from .hand_model import HandShape, forward_kinematics, rotvec_to_matrix
from .pose_prior import LATENT_SLICES, PosePrior, latents_to_angles

# Nearest allowed depth of any joint (m): a hand never reaches into the lens.
MIN_JOINT_DEPTH_M = 0.08
# The 15 finger segments (the bones that are not wrist -> base), as
# (parent, child) joints, finger by finger, and each one's (finger, index).
FINGER_SEGMENTS: Tuple[Tuple[int, int], ...] = tuple(
    bone for bone in SKELETON if bone[0] != WRIST)
SEGMENT_FINGER_INDEX: Tuple[Tuple[int, int], ...] = tuple(
    (f, k) for f in range(5) for k in range(3))
# Joints on the palm outline (wrist, thumb CMC and MCP, finger MCPs): the palm
# cannot hide them.
PALM_JOINTS: Tuple[int, ...] = (WRIST, ) + tuple(
    FINGER_JOINTS[f][0] for f in FINGERS) + (FINGER_JOINTS['thumb'][1], )
MIRROR = np.diag([1.0, -1.0, 1.0])


@dataclass
class HandPoses:
    """Hands in the camera frame.

    Attributes:
        joints_m (np.ndarray): (N, K, 3) joints, metres, camera frame.
        palm_frame (np.ndarray): (N, 3, 3) columns: the hand's ulnar, distal
            and dorsal directions in the camera frame.
        segment_frames (np.ndarray): (N, F, 3, 3, 3) per finger segment,
            columns: flexion axis, direction, dorsal side (camera frame).
        is_left (np.ndarray): (N,) bool.
        shape (HandShape): the hands' shapes (radii, widths in mm).
    """

    joints_m: np.ndarray
    palm_frame: np.ndarray
    segment_frames: np.ndarray
    is_left: np.ndarray
    shape: HandShape

    def __len__(self) -> int:
        return self.joints_m.shape[0]


def intrinsics_for(image_size: int) -> np.ndarray:
    """(3, 3) intrinsics of the Aria pinhole at ``image_size`` pixels.

    :func:`~hp3d.datasets.camera.default_intrinsics` (512 px, f = 150 px,
    centre 255.5 px) scaled to the image size.
    """
    focal = FOCAL_PX * image_size / IMAGE_SIZE_PX
    center = (image_size - 1) / 2.0
    return np.array([[focal, 0.0, center], [0.0, focal, center],
                     [0.0, 0.0, 1.0]])


def pose_hands(shape: HandShape, z: np.ndarray, is_left: np.ndarray,
               prior: PosePrior, cam_K: np.ndarray,
               image_size: int = IMAGE_SIZE_PX) -> HandPoses:
    """Place posed hands in the camera.

    The joint centroid is put on the ray through its sampled image position
    at its sampled depth; a hand that would come closer than
    :data:`MIN_JOINT_DEPTH_M` is pushed back along that ray.

    Args:
        shape (HandShape): N shapes.
        z (np.ndarray): (N, LATENT_DIM) pose latents.
        is_left (np.ndarray): (N,) bool.
        prior (PosePrior): the pose distribution.
        cam_K (np.ndarray): (3, 3) intrinsics.
        image_size (int): image side (px) the prior's positions scale to.

    Returns:
        HandPoses: N hands.
    """
    is_left = np.asarray(is_left, dtype=bool)
    angles = latents_to_angles(prior, z)
    local_mm, frames = forward_kinematics(shape, angles)

    start, stop = LATENT_SLICES['orientation']
    perturb = rotvec_to_matrix(
        z[:, start:stop] @ np.asarray(prior.orientation_scale_tril).T)
    rot = rotvec_to_matrix(np.asarray(prior.orientation_rotvec)) @ perturb
    rot[is_left] = MIRROR @ rot[is_left]
    rel_m = local_mm @ np.swapaxes(rot, 1, 2) / 1000.0
    segment_frames = rot[:, None, None] @ frames

    start, stop = LATENT_SLICES['position']
    pos = z[:, start:stop]
    scale = image_size / IMAGE_SIZE_PX
    center_px = np.where(is_left[:, None], prior.left_center_px,
                         prior.right_center_px)
    uv = (center_px + np.asarray(prior.center_std_px) * pos[:, :2]) * scale
    depth = prior.depth_median_m * np.exp(prior.depth_log_std * pos[:, 2])
    rel_m = rel_m - rel_m.mean(axis=1, keepdims=True)
    depth = np.maximum(depth, MIN_JOINT_DEPTH_M - rel_m[..., 2].min(axis=1))
    ray = np.concatenate([uv, np.ones_like(uv[:, :1])], 1) @ np.linalg.inv(
        cam_K).T
    joints = ray[:, None] * depth[:, None, None] + rel_m
    return HandPoses(joints_m=joints, palm_frame=rot,
                     segment_frames=segment_frames, is_left=is_left,
                     shape=shape)


def palm_outline_m(hands: HandPoses) -> np.ndarray:
    """(N, V, 3) outline of the palm's mid-plane around the hand, metres.

    Wrist (ulnar side), along the little finger's edge, over the MCP knuckles,
    down the index edge, the thumb web, the thumb base and back to the radial
    side of the wrist.
    """
    j = hands.joints_m
    ulnar = hands.palm_frame[:, None, :, 0]
    distal = hands.palm_frame[:, None, :, 1]
    radii = hands.shape.radii_mm[:, :, 0] / 1000.0
    half_wrist = hands.shape.wrist_half_width_mm[:, None, None] / 1000.0
    thumb, index, middle, ring, pinky = (FINGER_JOINTS[f] for f in FINGERS)
    # Knuckle tops of pinky, ring, middle, index (the outline's order).
    knuckle = 0.4 * radii[:, 4:0:-1, None] * distal
    points = [
        j[:, [WRIST]] + half_wrist * ulnar,
        j[:, [pinky[0]]] + radii[:, 4, None, None] * ulnar - 0.01 * distal,
        j[:, [pinky[0], ring[0], middle[0], index[0]]] + knuckle,
        j[:, [index[0]]] - radii[:, 1, None, None] * ulnar,
        0.6 * j[:, [index[0]]] + 0.4 * j[:, [thumb[1]]],
        j[:, [thumb[1]]] - 0.5 * radii[:, 0, None, None] * ulnar,
        j[:, [thumb[0]]] - 0.6 * radii[:, 0, None, None] * ulnar,
        j[:, [WRIST]] - half_wrist * ulnar,
    ]
    return np.concatenate(points, axis=1)


def segment_radii_m(hands: HandPoses) -> np.ndarray:
    """(N, S) radius of each finger segment (metres), order of
    :data:`FINGER_SEGMENTS`."""
    return hands.shape.radii_mm.reshape(len(hands), 15) / 1000.0


def project_points(points_m: np.ndarray, cam_K: np.ndarray) -> np.ndarray:
    """(..., 2) pinhole projection (px) of (..., 3) camera points."""
    uvw = points_m @ np.asarray(cam_K, dtype=float).T
    return uvw[..., :2] / uvw[..., 2:3]


__all__ = [
    'MIN_JOINT_DEPTH_M', 'FINGER_SEGMENTS', 'SEGMENT_FINGER_INDEX',
    'PALM_JOINTS', 'HandPoses', 'intrinsics_for', 'pose_hands',
    'palm_outline_m', 'segment_radii_m', 'project_points'
]
