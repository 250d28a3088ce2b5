import cv2
import numpy as np
import pytest
from transform_samples import (
    INVALID_JOINT,
    blob_frame,
    centroid_uv,
    make_sample,
    textured_frame,
)

from hp3d.datasets.camera import FOCAL_PX, PRINCIPAL_PX, project
from hp3d.datasets.transforms import (
    GetBBoxCenterScale,
    LoadImage,
    MirrorLeftHand,
    TopdownAffine,
    get_warp_matrix,
    rotation_matrix_2d,
    warp_image,
)

INPUT = (224, 224)


def window_sample(point_uv, rotation=0.0):
    """Window centre (150, 150), scale 125 px, one joint projecting to
    ``point_uv``, a frame with a blob there."""
    z = 0.5
    point_3d = np.array([[(point_uv[0] - PRINCIPAL_PX) / FOCAL_PX * z,
                          (point_uv[1] - PRINCIPAL_PX) / FOCAL_PX * z, z]],
                        dtype=np.float32)
    sample = make_sample()
    sample.update(img=blob_frame(point_uv),
                  center=np.array([150, 150], np.float32),
                  scale=np.array([125, 125], np.float32), rotation=rotation,
                  keypoints_3d=point_3d,
                  keypoints_2d=project(point_3d, sample['cam_K']))
    return sample


@pytest.mark.parametrize('rotation, expected', [
    # k = 224 / 125 = 1.792 crop px per source px; offset (25, -10) from
    # the window centre lands at 111.5 + k * offset.
    (0.0, (111.5 + 25 * 1.792, 111.5 - 10 * 1.792)),
    # Content turns 90 deg counter-clockwise: (25, -10) -> (-10, -25).
    (90.0, (111.5 - 10 * 1.792, 111.5 - 25 * 1.792)),
])
def test_projected_joint_lands_at_expected_crop_pixel(rotation, expected):
    results = TopdownAffine(INPUT)(window_sample((175, 140), rotation))
    assert results['img'].shape == (224, 224, 3)
    assert results['img_shape'] == (224, 224)
    np.testing.assert_allclose(results['keypoints_2d_crop'][0], expected,
                               atol=1e-3)
    # The image moved with the keypoints.
    np.testing.assert_allclose(centroid_uv(results['img']), expected, atol=0.1)


def test_rotation_sign_is_cv2_counter_clockwise():
    center = ((224 - 1) / 2, (224 - 1) / 2)
    np.testing.assert_allclose(
        get_warp_matrix(np.array(center), np.array([224, 224]), 30.0, INPUT),
        cv2.getRotationMatrix2D(center, 30.0, 1.0), atol=1e-9)


@pytest.mark.parametrize('rotation', [37.0, -120.0])
def test_rotated_3d_reprojects_onto_rotated_crop(rotation):
    sample = make_sample()
    sample['img'] = textured_frame()
    original_3d = sample['keypoints_3d'].copy()
    results = GetBBoxCenterScale(input_size=INPUT)(sample)
    results['rotation'] = rotation
    results = TopdownAffine(INPUT)(results)

    rot = rotation_matrix_2d(rotation)
    rotated_3d = results['keypoints_3d']
    np.testing.assert_array_equal(rotated_3d[:, 2], original_3d[:, 2])
    np.testing.assert_allclose(rotated_3d[:, :2], original_3d[:, :2] @ rot.T,
                               atol=1e-7)
    assert np.isnan(rotated_3d[INVALID_JOINT]).all()

    # Through the camera, the rotated hand projects onto the 2D rotated
    # about the principal point.
    principal = np.array([PRINCIPAL_PX, PRINCIPAL_PX])
    np.testing.assert_allclose(
        project(rotated_3d, results['cam_K']),
        (sample['keypoints_2d'] - principal) @ rot.T + principal, atol=1e-3)

    # The crop is the image of the rotated hand through a pinhole (no skew
    # or in-plane rotation left) with focal k * f.
    warp = np.vstack([results['warp_mat'], [0, 0, 1]]).astype(np.float64)
    rot_3d = np.eye(3)
    rot_3d[:2, :2] = rot
    crop_k = warp @ results['cam_K'] @ rot_3d.T
    zoom = INPUT[0] / results['scale'][0]
    np.testing.assert_allclose(crop_k[[0, 1], [1, 0]], 0, atol=1e-4)
    np.testing.assert_allclose(np.diag(crop_k)[:2], zoom * FOCAL_PX, rtol=1e-5)
    np.testing.assert_allclose(project(rotated_3d, crop_k),
                               results['keypoints_2d_crop'], atol=1e-3)


def test_no_rotation_keeps_3d_exactly():
    sample = make_sample()
    sample['img'] = textured_frame()
    original_3d = sample['keypoints_3d'].copy()
    results = TopdownAffine(INPUT)(GetBBoxCenterScale(input_size=INPUT)(sample))
    np.testing.assert_array_equal(results['keypoints_3d'], original_3d)
    assert results['warp_mat'].shape == (2, 3)
    assert results['warp_mat'].dtype == np.float32


def test_scale_with_wrong_aspect_ratio_is_rejected():
    sample = window_sample((175, 140))
    sample['scale'] = np.array([100, 150], np.float32)
    with pytest.raises(ValueError, match='aspect ratio'):
        TopdownAffine(INPUT)(sample)


def test_reduced_decode_keeps_geometry_and_content(tmp_path):
    point = (300.0, 260.0)
    paths = {}
    for name, img in [('blob', blob_frame(point, sigma=6.0)),
                      ('texture', textured_frame(seed=1))]:
        paths[name] = str(tmp_path / f'{name}.jpg')
        cv2.imwrite(paths[name], img, [cv2.IMWRITE_JPEG_QUALITY, 95])

    def crop(path, max_reduction):
        # 480 px window -> 2.14 source px per input px: 1/2 decode allowed.
        sample = dict(img_path=path, center=np.array([280, 250], np.float32),
                      scale=np.array([480, 480], np.float32), rotation=15.0,
                      keypoints_2d=np.array([point], np.float32))
        load = LoadImage(max_decode_reduction=max_reduction, input_size=INPUT)
        return TopdownAffine(INPUT)(load(sample))

    full, reduced = crop(paths['blob'], 1), crop(paths['blob'], 4)
    assert reduced['ori_shape'] == (512, 512)
    assert reduced['img_scale_factor'] == (0.5, 0.5)
    np.testing.assert_array_equal(full['warp_mat'], reduced['warp_mat'])
    np.testing.assert_allclose(centroid_uv(reduced['img']),
                               reduced['keypoints_2d_crop'][0], atol=0.1)
    np.testing.assert_allclose(centroid_uv(full['img']),
                               full['keypoints_2d_crop'][0], atol=0.1)
    diff = np.abs(crop(paths['texture'], 1)['img'].astype(np.float32) -
                  crop(paths['texture'], 2)['img'])
    assert diff.mean() < 1.5


def cropped(hand):
    sample = make_sample(hand)
    sample['img'] = textured_frame()
    return TopdownAffine(INPUT)(GetBBoxCenterScale(input_size=INPUT)(sample))


def test_left_hand_crop_is_the_mirrored_crop():
    plain = cropped('left')
    plain_img = plain['img'].copy()
    mirrored = MirrorLeftHand()(cropped('left'))
    assert mirrored['flipped'] is True
    # mirrored across camera y: the crop flips vertically (v -> H - 1 - v)
    np.testing.assert_array_equal(mirrored['img'], cv2.flip(plain_img, 0))
    u, v = plain['keypoints_2d_crop'].T
    np.testing.assert_allclose(mirrored['keypoints_2d_crop'],
                               np.stack([u, 223 - v], 1))
    # The recorded warp still maps source px to the (mirrored) crop.
    warp = mirrored['warp_mat'].astype(np.float64)
    np.testing.assert_allclose(
        mirrored['keypoints_2d'] @ warp[:, :2].T + warp[:, 2],
        mirrored['keypoints_2d_crop'], atol=1e-3)


def test_mirror_twice_is_identity():
    before = cropped('left')
    snapshot = {k: np.array(before[k]) for k in
                ('img', 'keypoints_2d_crop', 'warp_mat')}
    after = MirrorLeftHand()(MirrorLeftHand()(before))
    for key, value in snapshot.items():
        np.testing.assert_allclose(after[key], value, atol=1e-4)


@pytest.mark.parametrize('hand, enabled', [('right', True), ('left', False)])
def test_unmirrored_hands_are_untouched(hand, enabled):
    plain = cropped(hand)
    img = plain['img'].copy()
    results = MirrorLeftHand(enabled=enabled)(plain)
    assert results['flipped'] is False
    np.testing.assert_array_equal(results['img'], img)


def test_fast_warp_is_bit_identical_to_plain_warp_affine():
    img = textured_frame()
    rng = np.random.default_rng(0)
    for _ in range(20):
        side = rng.uniform(60, 600)
        warp = get_warp_matrix(rng.uniform(0, 512, 2), np.array([side, side]),
                               rng.uniform(-180, 180), INPUT)
        np.testing.assert_array_equal(
            warp_image(img, warp, INPUT),
            cv2.warpAffine(img, warp, INPUT, flags=cv2.INTER_LINEAR))
