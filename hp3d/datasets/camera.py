"""The undistorted Ego-Exo4D Aria camera: a 512x512 pinhole, f = 150 px."""
import numpy as np

IMAGE_SIZE_PX = 512
FOCAL_PX = 150.0
# Principal point of a linear camera over pixel centres 0..511.
PRINCIPAL_PX = (IMAGE_SIZE_PX - 1) / 2.0


def default_intrinsics() -> np.ndarray:
    """(3, 3) float32 intrinsics of the undistorted 512x512 frames."""
    return np.array([[FOCAL_PX, 0.0, PRINCIPAL_PX],
                     [0.0, FOCAL_PX, PRINCIPAL_PX],
                     [0.0, 0.0, 1.0]], dtype=np.float32)


def project(points_3d: np.ndarray, cam_K: np.ndarray) -> np.ndarray:
    """Pinhole projection.

    Args:
        points_3d (np.ndarray): (..., 3) camera-frame points, z > 0.
        cam_K (np.ndarray): (3, 3) intrinsics.

    Returns:
        np.ndarray: (..., 2) pixel coordinates.
    """
    uvw = points_3d @ np.asarray(cam_K, dtype=points_3d.dtype).T
    return uvw[..., :2] / uvw[..., 2:3]


__all__ = ['IMAGE_SIZE_PX', 'FOCAL_PX', 'PRINCIPAL_PX', 'default_intrinsics',
           'project']
