"""Place a wrist-relative hand in the camera frame from its wrist's depth.

The models predict joints relative to the wrist. Given the intrinsics ``K``,
the wrist's pixel ``(u, v)`` and its depth ``z`` (metres along the optical
axis, the camera-frame z), the wrist lies on its pixel's ray at that depth::

    wrist_m = z * K^-1 @ (u, v, 1)

and every joint is ``wrist_m + keypoints_rel_mm / 1000``.

Note:
    K: joints (21).
"""
import numpy as np

from hp3d.datasets.metainfo import NUM_JOINTS

__all__ = ['backproject_px', 'to_camera_space_m']


def backproject_px(point_px: np.ndarray, depth_m: float,
                   cam_K: np.ndarray) -> np.ndarray:
    """The camera-frame point of a pixel at a depth.

    Args:
        point_px (np.ndarray): (2,) pixel (u, v).
        depth_m (float): Camera-frame z of the point, metres, > 0.
        cam_K (np.ndarray): (3, 3) intrinsics.

    Returns:
        np.ndarray: (3,) float64 point in metres, with z = ``depth_m``.
    """
    point_px = np.asarray(point_px, dtype=np.float64)
    cam_K = np.asarray(cam_K, dtype=np.float64)
    if point_px.shape != (2, ) or not np.isfinite(point_px).all():
        raise ValueError(f'point_px must be a finite (u, v), got {point_px}')
    if not (np.isfinite(depth_m) and depth_m > 0):
        raise ValueError(f'depth_m must be a positive number, got {depth_m}')
    if cam_K.shape != (3, 3) or not np.isfinite(cam_K).all():
        raise ValueError(f'cam_K must be a finite (3, 3) matrix, got {cam_K}')
    ray = np.linalg.solve(cam_K, np.append(point_px, 1.0))
    return ray * (depth_m / ray[2])


def to_camera_space_m(keypoints_rel_mm: np.ndarray, wrist_px: np.ndarray,
                      wrist_depth_m: float, cam_K: np.ndarray) -> np.ndarray:
    """Wrist-relative joints -> camera-frame joints (see the module doc).

    Args:
        keypoints_rel_mm (np.ndarray): (K, 3) wrist-relative mm.
        wrist_px (np.ndarray): (2,) wrist pixel (u, v).
        wrist_depth_m (float): Camera-frame z of the wrist, metres.
        cam_K (np.ndarray): (3, 3) intrinsics of the pixel's image.

    Returns:
        np.ndarray: (K, 3) float32 camera-frame joints in metres.
    """
    keypoints_rel_mm = np.asarray(keypoints_rel_mm, dtype=np.float64)
    if keypoints_rel_mm.shape != (NUM_JOINTS, 3):
        raise ValueError(f'keypoints_rel_mm must be ({NUM_JOINTS}, 3), got '
                         f'{keypoints_rel_mm.shape}')
    wrist_m = backproject_px(wrist_px, wrist_depth_m, cam_K)
    return (wrist_m + keypoints_rel_mm / 1000.0).astype(np.float32)
