import numpy as np
import pytest
from inference_toys import CAM_K, hand_3d_m

from hp3d.apis import backproject_px, to_camera_space_m
from hp3d.datasets.camera import default_intrinsics, project


def test_backprojection_by_hand():
    # K^-1 (u, v, 1) = ((u - cx) / fx, (v - cy) / fy, 1), scaled to z
    point = backproject_px(np.array([300.0, 190.0]), 0.5, CAM_K)
    np.testing.assert_allclose(point, [(300 - 240) / 180 * 0.5,
                                       (190 - 270) / 160 * 0.5, 0.5])


@pytest.mark.parametrize('cam_K', [CAM_K, default_intrinsics()])
def test_known_hand_is_recovered_from_its_wrist_pixel_and_depth(cam_K):
    hand_m = hand_3d_m(wrist_m=(-0.03, 0.05, 0.42))
    wrist_px = project(hand_m[0], cam_K)
    rel_mm = (hand_m - hand_m[0]) * 1000.0
    cam_m = to_camera_space_m(rel_mm, wrist_px, 0.42, cam_K)
    assert cam_m.dtype == np.float32
    np.testing.assert_allclose(cam_m, hand_m, atol=1e-6)
    np.testing.assert_allclose(project(cam_m.astype(np.float64), cam_K),
                               project(hand_m, cam_K), atol=1e-3)


@pytest.mark.parametrize('args, match', [
    ((np.array([np.nan, 1.0]), 0.4, CAM_K), 'point_px'),
    ((np.array([1.0, 1.0]), 0.0, CAM_K), 'depth_m'),
    ((np.array([1.0, 1.0]), np.nan, CAM_K), 'depth_m'),
    ((np.array([1.0, 1.0]), 0.4, np.eye(2)), 'cam_K'),
])
def test_bad_arguments_are_named(args, match):
    with pytest.raises(ValueError, match=match):
        backproject_px(*args)
