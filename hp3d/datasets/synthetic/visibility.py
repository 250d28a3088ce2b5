"""Which joints an annotation keeps: in the frame and not self-occluded.

A joint is annotated (valid) when its projection lies inside the image and no
other part of the same hand hides it: the palm (its outline's mid-plane) or a
finger segment that does not end at the joint, lying clearly in front of it.
The same geometry is what :mod:`.render` draws.

Note:
    Shape symbols: ``N`` hands, ``K`` = 21 joints, ``S`` = 15 finger
    segments, ``V`` palm outline vertices.
"""
from typing import Tuple

import numpy as np

from ..metainfo import FINGER_JOINTS, FINGERS, NUM_JOINTS, WRIST
from .hand_pose import (
    FINGER_SEGMENTS,
    PALM_JOINTS,
    HandPoses,
    palm_outline_m,
    project_points,
    segment_radii_m,
)

# Annotators label joints they can infer, so only clearly hidden joints are
# dropped. A palm hides a joint lying this far (m) behind its mid-plane
# (well beyond its volar surface, about 12 mm).
PALM_OCCLUSION_MARGIN_M = 0.03
# A finger segment hides a joint lying this far (m) behind its surface, when
# the joint projects within this fraction of the segment's projected radius.
SEGMENT_OCCLUSION_MARGIN_M = 0.03
SEGMENT_COVER_FRACTION = 0.3
# Rays grazing the palm plane (|cos| below this) do not intersect it reliably.
MIN_PALM_RAY_COS = 0.15

_SEGMENT_ENDS = np.array(FINGER_SEGMENTS)
_PALM_PLANE_JOINTS = (WRIST, ) + tuple(FINGER_JOINTS[f][0]
                                       for f in FINGERS[1:])
# (K, S) True where the segment ends at the joint (it cannot hide it).
_INCIDENT = np.zeros((NUM_JOINTS, len(FINGER_SEGMENTS)), dtype=bool)
for _s, (_a, _b) in enumerate(FINGER_SEGMENTS):
    _INCIDENT[[_a, _b], _s] = True


def points_in_polygons(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test.

    Args:
        points (np.ndarray): (N, P, 2) points.
        polygons (np.ndarray): (N, V, 2) one closed polygon per row.

    Returns:
        np.ndarray: (N, P) bool.
    """
    x, y = points[..., 0, None], points[..., 1, None]
    x1, y1 = polygons[:, None, :, 0], polygons[:, None, :, 1]
    nxt = np.roll(polygons, -1, axis=1)
    x2, y2 = nxt[:, None, :, 0], nxt[:, None, :, 1]
    straddles = (y1 > y) != (y2 > y)
    dy = np.where(y2 == y1, 1.0, y2 - y1)
    x_cross = x1 + (y - y1) * (x2 - x1) / dy
    return np.sum(straddles & (x < x_cross), axis=-1) % 2 == 1


def self_occluded(hands: HandPoses, cam_K: np.ndarray) -> np.ndarray:
    """(N, K) bool: joints hidden by the palm or another finger segment."""
    joints = hands.joints_m
    uv = project_points(joints, cam_K)
    depth = joints[..., 2]
    rays = np.concatenate([uv, np.ones_like(uv[..., :1])],
                          -1) @ np.linalg.inv(cam_K).T

    outline = palm_outline_m(hands)
    inside = points_in_polygons(uv, project_points(outline, cam_K))
    normal = hands.palm_frame[:, :, 2]
    denom = np.einsum('nkc,nc->nk', rays, normal)
    cos = denom / np.linalg.norm(rays, axis=-1)
    # The palm plane passes through the wrist and the finger MCPs.
    anchor = joints[:, list(_PALM_PLANE_JOINTS)].mean(axis=1)
    plane = np.einsum('nc,nc->n', anchor, normal)[:, None]
    palm_depth = plane / np.where(denom == 0, 1.0, denom)
    by_palm = (inside & (np.abs(cos) > MIN_PALM_RAY_COS)
               & (depth - palm_depth > PALM_OCCLUSION_MARGIN_M))
    by_palm[:, list(PALM_JOINTS)] = False

    start, end = joints[:, _SEGMENT_ENDS[:, 0]], joints[:, _SEGMENT_ENDS[:, 1]]
    uv_a, uv_b = project_points(start, cam_K), project_points(end, cam_K)
    ab = uv_b - uv_a
    ap = uv[:, :, None] - uv_a[:, None]
    t = np.clip(np.sum(ap * ab[:, None], -1)
                / np.maximum(np.sum(ab * ab, -1), 1e-9)[:, None], 0.0, 1.0)
    dist_px = np.linalg.norm(ap - t[..., None] * ab[:, None], axis=-1)
    seg_depth = start[:, None, :, 2] + t * (end - start)[:, None, :, 2]
    radius = segment_radii_m(hands)[:, None]
    radius_px = cam_K[0, 0] * radius / seg_depth
    by_segment = ((dist_px < SEGMENT_COVER_FRACTION * radius_px)
                  & (depth[..., None] - seg_depth >
                     radius + SEGMENT_OCCLUSION_MARGIN_M)
                  & ~_INCIDENT)
    return by_palm | by_segment.any(-1)


def joint_validity(hands: HandPoses, cam_K: np.ndarray,
                   image_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Projected joints and their annotation flags.

    Args:
        hands (HandPoses): N hands.
        cam_K (np.ndarray): (3, 3) intrinsics.
        image_size (int): image side in pixels.

    Returns:
        tuple:
        - keypoints_2d (np.ndarray): (N, K, 2) projections (px), for every
          joint.
        - valid (np.ndarray): (N, K) bool: inside the image
          ([0, image_size - 1] on both axes) and not self-occluded.
    """
    uv = project_points(hands.joints_m, cam_K)
    in_frame = (np.all((uv >= 0) & (uv <= image_size - 1), axis=-1)
                & (hands.joints_m[..., 2] > 0))
    return uv, in_frame & ~self_occluded(hands, cam_K)


__all__ = [
    'PALM_OCCLUSION_MARGIN_M', 'SEGMENT_OCCLUSION_MARGIN_M',
    'points_in_polygons', 'self_occluded', 'joint_validity'
]
