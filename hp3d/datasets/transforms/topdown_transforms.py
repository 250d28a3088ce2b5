"""Crop the hand to the network input, and mirror left hands to right ones.

Pixel convention (the same as :mod:`hp3d.datasets.camera`): integer
coordinates are pixel centres, so an image of width W spans [-0.5, W - 0.5].
The crop window (``center``, ``scale``) therefore maps onto the whole input:
its centre lands on ((W - 1) / 2, (H - 1) / 2). The official baseline maps it
onto (W / 2, H / 2), half a pixel away; nothing else differs.

Rotation convention: ``rotation`` degrees, positive turns the image content
counter-clockwise on screen (as ``cv2.getRotationMatrix2D``). In (u, v)
pixel coordinates (v down) a point moves by ``R = [[c, s], [-s, c]]``; the
camera frame has x right, y down, so the same ``R`` applied to the 3D (x, y)
rotates the hand about the optical axis consistently with the image.
"""
from typing import Dict, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from hp3d.datasets.metainfo import MIRROR_AXIS
from hp3d.registry import TRANSFORMS

__all__ = ['rotation_matrix_2d', 'get_warp_matrix', 'warp_image',
           'TopdownAffine', 'MirrorLeftHand']


def rotation_matrix_2d(rotation_deg: float) -> np.ndarray:
    """(2, 2) matrix turning (u, v) content counter-clockwise on screen.

    Args:
        rotation_deg (float): Angle in degrees.

    Returns:
        np.ndarray: (2, 2) float64 ``[[c, s], [-s, c]]``.
    """
    rad = np.deg2rad(rotation_deg)
    c, s = np.cos(rad), np.sin(rad)
    return np.array([[c, s], [-s, c]])


def get_warp_matrix(center: np.ndarray, scale: np.ndarray,
                    rotation_deg: float,
                    output_size: Tuple[int, int]) -> np.ndarray:
    """Affine map from source pixels to the crop.

    ``p_crop = k * R @ (p - center) + ((W - 1) / 2, (H - 1) / 2)`` with
    ``k = W / scale_w`` (output px per source px, the same on both axes).

    Args:
        center (np.ndarray): (2,) window centre, px.
        scale (np.ndarray): (2,) window (w, h), px; its aspect ratio must be
            the output's.
        rotation_deg (float): See :func:`rotation_matrix_2d`.
        output_size (tuple[int, int]): (W, H) of the crop.

    Returns:
        np.ndarray: (2, 3) float64 matrix for ``cv2.warpAffine``.
    """
    out_w, out_h = output_size
    zoom = out_w / float(scale[0])
    linear = zoom * rotation_matrix_2d(rotation_deg)
    out_center = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    offset = out_center - linear @ np.asarray(center, dtype=np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1)


def _decoded_to_source(scale_factor: Tuple[float, float]) -> np.ndarray:
    """(3, 3) map from a reduced-size decode back to source pixels.

    A reduced JPEG decode averages r x r blocks, so decoded pixel i sits at
    source (i + 0.5) * r - 0.5 (checked against ``cv2.INTER_AREA``).
    """
    sx, sy = scale_factor
    return np.array([[1 / sx, 0, 0.5 / sx - 0.5],
                     [0, 1 / sy, 0.5 / sy - 0.5],
                     [0, 0, 1]])


def warp_image(img: np.ndarray, warp: np.ndarray,
               output_size: Tuple[int, int]) -> np.ndarray:
    """Bilinear ``cv2.warpAffine`` with a black border.

    cv2's bilinear warp has a SIMD path for 4 channels but not for 3, so a
    3-channel image goes through BGRA: bit-identical, about twice as fast.

    Args:
        img (np.ndarray): (h, w) or (h, w, C) image.
        warp (np.ndarray): (2, 3) source px to output px.
        output_size (tuple[int, int]): (W, H).

    Returns:
        np.ndarray: (H, W[, C]) image, ``img``'s dtype.
    """
    if img.ndim == 3 and img.shape[2] == 3:
        bgra = cv2.warpAffine(cv2.cvtColor(img, cv2.COLOR_BGR2BGRA), warp,
                              output_size, flags=cv2.INTER_LINEAR)
        return cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)
    return cv2.warpAffine(img, warp, output_size, flags=cv2.INTER_LINEAR)


@TRANSFORMS.register_module()
class TopdownAffine(BaseTransform):
    """Warp the crop window of the image to the network input.

    Required keys: ``img`` (h, w, 3) uint8, ``center``, ``scale`` (2,) px.
    Optional keys: ``rotation`` (degrees, 0 when absent), ``img_scale_factor``
    (from a reduced-size decode in ``LoadImage``), ``keypoints_2d`` (K, 2)
    px, ``keypoints_3d`` (K, 3) m.
    Modified keys: ``img`` (H, W, 3) uint8, ``img_shape``; ``keypoints_3d``
    rotated about the optical axis when ``rotation`` is not 0, so the 3D
    target matches the rotated crop (the crop is then exactly the image of
    the rotated hand through a pinhole with focal ``k * f`` when fx = fy).
    Added keys: ``warp_mat`` (2, 3) float32, source px to crop px;
    ``keypoints_2d_crop`` (K, 2) crop px (NaN stays NaN); ``input_size``.

    Args:
        input_size (tuple[int, int]): (W, H) of the crop. Defaults to
            (224, 224).
    """

    def __init__(self, input_size: Tuple[int, int] = (224, 224)) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def transform(self, results: Dict) -> Dict:
        scale = np.asarray(results['scale'], dtype=np.float64)
        out_w, out_h = self.input_size
        if abs(scale[0] * out_h - scale[1] * out_w) > 1e-3 * scale[1] * out_w:
            raise ValueError(
                f'scale {scale.tolist()} does not have the aspect ratio of '
                f'input_size {self.input_size}: give GetBBoxCenterScale the '
                'same input_size')
        rotation = float(results.get('rotation', 0.0))
        warp = get_warp_matrix(results['center'], scale, rotation,
                               self.input_size)
        sample_warp = warp
        if 'img_scale_factor' in results:
            sample_warp = warp @ _decoded_to_source(results['img_scale_factor'])
        results['img'] = warp_image(results['img'], sample_warp,
                                    self.input_size)
        results['img_shape'] = (out_h, out_w)
        results['input_size'] = self.input_size
        results['warp_mat'] = warp.astype(np.float32)

        if 'keypoints_2d' in results:
            kpts = np.asarray(results['keypoints_2d'], dtype=np.float64)
            results['keypoints_2d_crop'] = (
                kpts @ warp[:, :2].T + warp[:, 2]).astype(np.float32)
        if rotation != 0 and 'keypoints_3d' in results:
            kpts_3d = np.array(results['keypoints_3d'], dtype=np.float32)
            rot = rotation_matrix_2d(rotation).astype(np.float32)
            kpts_3d[:, :2] = kpts_3d[:, :2] @ rot.T
            results['keypoints_3d'] = kpts_3d
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(input_size={self.input_size})'


@TRANSFORMS.register_module()
class MirrorLeftHand(BaseTransform):
    """Mirror left-hand crops so every hand the network sees is a right one.

    Runs after ``TopdownAffine``. The 3D target is mirrored by the codec
    (``encode(..., flip=results['flipped'])``) and the estimator mirrors the
    prediction back, so ``keypoints_3d`` stays in the sample's own hand here.

    Required keys: ``img`` (H, W, 3), ``is_left``.
    The image flip matches the 3D mirror across camera axis ``MIRROR_AXIS``
    (see :mod:`hp3d.datasets.metainfo`): camera x runs along image u, y
    along image v.

    Modified keys (left hands, when enabled): ``img`` flipped along the
    mirror axis (v -> H - 1 - v for camera y), ``keypoints_2d_crop``
    likewise, ``warp_mat`` (now source px to the mirrored crop).
    Added keys: ``flipped`` (bool).

    Args:
        enabled (bool): False keeps every hand as it is (the official
            baseline). Defaults to True.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def transform(self, results: Dict) -> Dict:
        flip = self.enabled and bool(results['is_left'])
        results['flipped'] = flip
        if not flip:
            return results
        img = results['img']
        # image axis u (cv2 flip code 1) for camera x, v (code 0) for y
        size = img.shape[1 - MIRROR_AXIS]
        results['img'] = cv2.flip(img, 1 - MIRROR_AXIS)
        if 'keypoints_2d_crop' in results:
            kpts = np.array(results['keypoints_2d_crop'], dtype=np.float32)
            kpts[:, MIRROR_AXIS] = (size - 1) - kpts[:, MIRROR_AXIS]
            results['keypoints_2d_crop'] = kpts
        if 'warp_mat' in results:
            mirror = np.eye(3)
            mirror[MIRROR_AXIS, MIRROR_AXIS] = -1
            mirror[MIRROR_AXIS, 2] = size - 1
            warp = np.vstack([results['warp_mat'], [0, 0, 1]])
            results['warp_mat'] = (mirror @ warp)[:2].astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(enabled={self.enabled})'
