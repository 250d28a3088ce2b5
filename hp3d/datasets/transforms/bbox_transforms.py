"""From the hand box to the crop window: centre and scale, and their jitter.

A crop window is a ``center`` (2,) px and a ``scale`` (2,) px, its (w, h) in
source pixels, plus a ``rotation`` in degrees (positive turns the image content
counter-clockwise on screen, cv2's convention). ``TopdownAffine`` maps the
window onto the network input.
"""
from typing import Dict, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from hp3d.registry import TRANSFORMS

from .utils import describe_sample

__all__ = ['bbox_xyxy_to_center_scale', 'GetBBoxCenterScale',
           'RandomBBoxTransform']


def bbox_xyxy_to_center_scale(bbox: np.ndarray, aspect_ratio: float,
                              padding: float) -> Tuple[np.ndarray, np.ndarray]:
    """The official box rule: grow the short side to ``aspect_ratio``, pad.

    The official baseline expresses scale in units of 200 px
    (``scale = size / 200 * 1.25``); hp3d keeps pixels, so
    ``scale_px = official_scale * 200``.

    Args:
        bbox (np.ndarray): (4,) x1, y1, x2, y2 in px.
        aspect_ratio (float): Width / height of the crop.
        padding (float): Factor applied to both sides after the aspect fix.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``center`` (2,) px and ``scale``
        (2,) px (w, h), float32.
    """
    x1, y1, x2, y2 = (float(v) for v in bbox)
    center = np.array([x1 + x2, y1 + y2], dtype=np.float32) * 0.5
    w, h = x2 - x1, y2 - y1
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    scale = np.array([w, h], dtype=np.float32) * padding
    return center, scale


@TRANSFORMS.register_module()
class GetBBoxCenterScale(BaseTransform):
    """Turn the hand box into the crop window (the official baseline's rule).

    Required keys: ``bbox`` (4,) xyxy px.
    Added keys: ``center`` (2,) px, ``scale`` (2,) px (w, h), ``rotation``
    (0.0 degrees).

    Args:
        padding (float): Both sides are multiplied by it after the box is
            grown to the input's aspect ratio. Defaults to 1.25 (official).
        input_size (tuple[int, int]): (w, h) of the network input; only its
            aspect ratio is used here. Defaults to (224, 224).
    """

    def __init__(self, padding: float = 1.25,
                 input_size: Tuple[int, int] = (224, 224)) -> None:
        if padding <= 0:
            raise ValueError(f'padding must be positive, got {padding}')
        self.padding = padding
        self.input_size = tuple(input_size)
        self.aspect_ratio = self.input_size[0] / self.input_size[1]

    def transform(self, results: Dict) -> Dict:
        bbox = np.asarray(results['bbox'], dtype=np.float32)
        if (bbox.shape != (4, ) or not np.isfinite(bbox).all()
                or bbox[2] <= bbox[0] or bbox[3] <= bbox[1]):
            raise ValueError(f'{describe_sample(results)}: bbox must be a '
                             f'finite xyxy box with x2 > x1 and y2 > y1, got '
                             f'{bbox.tolist()}')
        center, scale = bbox_xyxy_to_center_scale(bbox, self.aspect_ratio,
                                                  self.padding)
        results['center'] = center
        results['scale'] = scale
        results['rotation'] = 0.0
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(padding={self.padding}, '
                f'input_size={self.input_size})')


@TRANSFORMS.register_module()
class RandomBBoxTransform(BaseTransform):
    """Jitter the crop window for training: shift, rescale, rotate.

    Each call draws from numpy's global generator, so a seeded
    ``np.random`` (mmengine seeds every worker) makes it deterministic.

    Required keys: ``center``, ``scale`` (from ``GetBBoxCenterScale``).
    Modified keys: ``center``, ``scale``, ``rotation`` (degrees).

    Args:
        shift_factor (float): The centre moves by U(-f, f) x scale on each
            axis. Defaults to 0.1.
        scale_factor (tuple[float, float]): Both sides are multiplied by one
            U(low, high) factor, keeping the aspect ratio. Defaults to
            (0.8, 1.2).
        rotate_factor (float): Rotation U(-f, f) degrees, positive turns the
            content counter-clockwise. Defaults to 30.
        rotate_prob (float): Probability of rotating at all. Defaults to 0.5.
    """

    def __init__(self, shift_factor: float = 0.1,
                 scale_factor: Tuple[float, float] = (0.8, 1.2),
                 rotate_factor: float = 30.0,
                 rotate_prob: float = 0.5) -> None:
        if not 0 < scale_factor[0] <= scale_factor[1]:
            raise ValueError('scale_factor must be (low, high) with '
                             f'0 < low <= high, got {scale_factor}')
        if not 0 <= rotate_prob <= 1:
            raise ValueError(f'rotate_prob must be in [0, 1], got {rotate_prob}')
        self.shift_factor = shift_factor
        self.scale_factor = tuple(scale_factor)
        self.rotate_factor = rotate_factor
        self.rotate_prob = rotate_prob

    @cache_randomness
    def _sample(self) -> Tuple[np.ndarray, float, float]:
        shift = np.random.uniform(-self.shift_factor, self.shift_factor, 2)
        scale = np.random.uniform(*self.scale_factor)
        rotate = np.random.uniform(-self.rotate_factor, self.rotate_factor)
        if np.random.rand() >= self.rotate_prob:
            rotate = 0.0
        return shift, scale, rotate

    def transform(self, results: Dict) -> Dict:
        shift, scale, rotate = self._sample()
        center = np.asarray(results['center'], dtype=np.float32)
        size = np.asarray(results['scale'], dtype=np.float32)
        results['center'] = (center + shift * size).astype(np.float32)
        results['scale'] = (size * scale).astype(np.float32)
        results['rotation'] = float(results.get('rotation', 0.0)) + rotate
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(shift_factor={self.shift_factor}, '
                f'scale_factor={self.scale_factor}, '
                f'rotate_factor={self.rotate_factor}, '
                f'rotate_prob={self.rotate_prob})')
