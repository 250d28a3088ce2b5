"""Image-only augmentations and target generation.

The augmentations change ``img`` only (no geometry), work on uint8 with one
cv2 call each (cheap on a 224x224 crop, so run them after ``TopdownAffine``)
and draw from numpy's global generator: a seeded ``np.random`` (mmengine
seeds every worker) makes them deterministic.
"""
import inspect
from typing import Dict, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from hp3d.registry import KEYPOINT_CODECS, TRANSFORMS
from hp3d.utils.typing import ConfigType

from .utils import describe_sample

__all__ = ['colour_jitter_matrix', 'PhotometricDistortion',
           'motion_blur_kernel', 'RandomBlur', 'GenerateTarget']

# BGR -> YIQ (luma Y, chroma I, Q): saturation scales and hue rotates the
# chroma plane, both linear maps that keep grey grey.
_BGR_TO_YIQ = np.array([[0.114, 0.587, 0.299],
                        [-0.322, -0.274, 0.596],
                        [0.312, -0.523, 0.211]])
_YIQ_TO_BGR = np.linalg.inv(_BGR_TO_YIQ)


def _check_uint8(img: np.ndarray, name: str) -> None:
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise TypeError(f'{name} expects an (H, W, 3) uint8 BGR image, got '
                        f'{img.dtype} {img.shape}')


def colour_jitter_matrix(brightness: float, contrast: float,
                         saturation: float, hue_deg: float) -> np.ndarray:
    """(3, 4) affine map of BGR values for ``cv2.transform``.

    ``out = contrast * C @ bgr + brightness`` where ``C`` scales the chroma
    of YIQ by ``saturation`` and rotates it by ``hue_deg`` (a hue rotation
    about the grey axis). ``C`` maps grey to itself, so the order of the
    brightness shift and the chroma map does not matter.

    Args:
        brightness (float): Added to every channel, grey levels.
        contrast (float): Multiplies every channel.
        saturation (float): Chroma factor, 0 gives grey (luma).
        hue_deg (float): Chroma rotation, degrees.

    Returns:
        np.ndarray: (3, 4) float64.
    """
    rad = np.deg2rad(hue_deg)
    chroma = saturation * np.array([[np.cos(rad), -np.sin(rad)],
                                    [np.sin(rad), np.cos(rad)]])
    yiq = np.eye(3)
    yiq[1:, 1:] = chroma
    linear = contrast * (_YIQ_TO_BGR @ yiq @ _BGR_TO_YIQ)
    return np.concatenate([linear, np.full((3, 1), brightness)], axis=1)


@TRANSFORMS.register_module()
class PhotometricDistortion(BaseTransform):
    """Colour jitter: brightness, contrast, saturation, hue, in one pass.

    The four are linear in BGR, so they compose into one (3, 4) matrix
    (:func:`colour_jitter_matrix`) applied by ``cv2.transform`` with a single
    rounding and clip to [0, 255]. Each is drawn with probability ``prob``.

    Required / modified keys: ``img`` (H, W, 3) uint8 BGR.

    Args:
        brightness_delta (float): Shift ~ U(-d, d) grey levels. Defaults to
            32.
        contrast_range (tuple[float, float]): Factor ~ U(low, high).
            Defaults to (0.5, 1.5).
        saturation_range (tuple[float, float]): Chroma factor ~ U(low,
            high). Defaults to (0.5, 1.5).
        hue_delta_deg (float): Hue rotation ~ U(-d, d) degrees. Defaults
            to 18.
        prob (float): Probability of each of the four. Defaults to 0.5.
    """

    def __init__(self, brightness_delta: float = 32,
                 contrast_range: Tuple[float, float] = (0.5, 1.5),
                 saturation_range: Tuple[float, float] = (0.5, 1.5),
                 hue_delta_deg: float = 18, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta_deg = hue_delta_deg
        self.prob = prob

    @cache_randomness
    def _sample(self) -> Tuple[float, float, float, float]:
        """(brightness, contrast, saturation, hue); identity if not drawn."""
        apply = np.random.rand(4) < self.prob
        brightness = np.random.uniform(-self.brightness_delta,
                                       self.brightness_delta)
        contrast = np.random.uniform(*self.contrast_range)
        saturation = np.random.uniform(*self.saturation_range)
        hue = np.random.uniform(-self.hue_delta_deg, self.hue_delta_deg)
        return (brightness if apply[0] else 0.0,
                contrast if apply[1] else 1.0,
                saturation if apply[2] else 1.0, hue if apply[3] else 0.0)

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        _check_uint8(img, self.__class__.__name__)
        params = self._sample()
        if params != (0.0, 1.0, 1.0, 0.0):
            results['img'] = cv2.transform(img, colour_jitter_matrix(*params))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'brightness_delta={self.brightness_delta}, '
                f'contrast_range={self.contrast_range}, '
                f'saturation_range={self.saturation_range}, '
                f'hue_delta_deg={self.hue_delta_deg}, prob={self.prob})')


def motion_blur_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line kernel: blur along one direction.

    Args:
        length (int): Odd line length in px.
        angle_deg (float): Direction, degrees counter-clockwise from +u.

    Returns:
        np.ndarray: (length, length) float32 kernel summing to 1.
    """
    kernel = np.zeros((length, length), dtype=np.float32)
    kernel[length // 2, :] = 1.0
    centre = ((length - 1) / 2.0, (length - 1) / 2.0)
    rot = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length),
                            flags=cv2.INTER_LINEAR)
    return kernel / kernel.sum()


@TRANSFORMS.register_module()
class RandomBlur(BaseTransform):
    """At most one blur per sample: Gaussian or motion.

    Required / modified keys: ``img`` (H, W, 3) uint8.

    Args:
        gaussian_prob (float): Probability of a Gaussian blur. Defaults to
            0.1.
        gaussian_sigma (tuple[float, float]): sigma ~ U(low, high) px.
            Defaults to (0.5, 2.0).
        motion_prob (float): Probability of a motion blur (exclusive of the
            Gaussian one). Defaults to 0.1.
        motion_length (tuple[int, int]): Line length, an odd integer drawn
            in [low, high] px. Defaults to (3, 9).
    """

    def __init__(self, gaussian_prob: float = 0.1,
                 gaussian_sigma: Tuple[float, float] = (0.5, 2.0),
                 motion_prob: float = 0.1,
                 motion_length: Tuple[int, int] = (3, 9)) -> None:
        if gaussian_prob < 0 or motion_prob < 0 or \
                gaussian_prob + motion_prob > 1:
            raise ValueError('gaussian_prob and motion_prob must be >= 0 and '
                             f'sum to <= 1, got {gaussian_prob}, {motion_prob}')
        if motion_length[0] < 3 or motion_length[0] > motion_length[1]:
            raise ValueError(f'motion_length must be (low, high) with '
                             f'3 <= low <= high, got {motion_length}')
        self.gaussian_prob = gaussian_prob
        self.gaussian_sigma = tuple(gaussian_sigma)
        self.motion_prob = motion_prob
        self.motion_length = tuple(motion_length)

    @cache_randomness
    def _sample(self) -> Tuple[float, float, int, float]:
        """(draw, sigma, motion length, motion angle)."""
        draw = np.random.rand()
        sigma = np.random.uniform(*self.gaussian_sigma)
        low, high = self.motion_length
        length = 2 * np.random.randint(low // 2, (high - 1) // 2 + 1) + 1
        angle = np.random.uniform(0.0, 180.0)
        return draw, sigma, int(length), angle

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        _check_uint8(img, self.__class__.__name__)
        draw, sigma, length, angle = self._sample()
        if draw < self.gaussian_prob:
            results['img'] = cv2.GaussianBlur(img, (0, 0), sigma)
        elif draw < self.gaussian_prob + self.motion_prob:
            results['img'] = cv2.filter2D(img, -1,
                                          motion_blur_kernel(length, angle))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(gaussian_prob={self.gaussian_prob}, '
                f'gaussian_sigma={self.gaussian_sigma}, '
                f'motion_prob={self.motion_prob}, '
                f'motion_length={self.motion_length})')


# Where GenerateTarget finds each codec ``encode`` argument in a sample.
_ENCODE_ARG_KEYS = dict(keypoints_2d='keypoints_2d', keypoints_3d='keypoints_3d',
                        keypoints_valid='keypoints_valid', flip='flipped')
# Sample keys a pipeline may leave unset: no mirroring step means not mirrored.
_SAMPLE_DEFAULTS = dict(flipped=False)
# Codec outputs stored under another name (``inputs`` is the model input).
_ENCODE_OUTPUT_KEYS = dict(inputs='lifting_inputs')


@TRANSFORMS.register_module()
class GenerateTarget(BaseTransform):
    """Encode a sample's keypoints with a codec (``KEYPOINT_CODECS``).

    The codec's ``encode`` arguments are fed by name: ``keypoints_2d``,
    ``keypoints_3d``, ``keypoints_valid`` from the sample, ``flip`` from
    ``flipped`` (False when absent). Its outputs are stored as they are
    named, except ``inputs`` -> ``lifting_inputs``. A sample without 3D GT
    (``has_gt`` False: box-only files, 2D-only datasets) is encoded as it is,
    so 2D inputs and their weights stay, and gets all-zero ``target`` and
    ``target_weight``.

    Required keys: the codec's arguments (above), ``has_gt``.
    Added keys: ``target`` (K, 3), ``target_weight`` (K,) and, for the
    lifting codec, ``lifting_inputs`` (K, 2), ``input_weight`` (K,).

    Args:
        encoder (dict | object): A codec config, or a built codec.
    """

    def __init__(self, encoder: Union[ConfigType, object]) -> None:
        if isinstance(encoder, dict):
            encoder = KEYPOINT_CODECS.build(encoder)
        self.encoder = encoder
        self._arg_keys = {}
        for name, param in inspect.signature(encoder.encode).parameters.items():
            if name in _ENCODE_ARG_KEYS:
                self._arg_keys[name] = _ENCODE_ARG_KEYS[name]
            elif param.default is inspect.Parameter.empty and param.kind in (
                    param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise TypeError(
                    f'GenerateTarget cannot feed the argument {name!r} of '
                    f'{type(encoder).__name__}.encode; it knows '
                    f'{sorted(_ENCODE_ARG_KEYS)}')

    def transform(self, results: Dict) -> Dict:
        kwargs = {
            name: (results.get(key, _SAMPLE_DEFAULTS[key])
                   if key in _SAMPLE_DEFAULTS else results[key])
            for name, key in self._arg_keys.items()
        }
        has_gt = bool(results['has_gt'])
        encoded = self.encoder.encode(**kwargs)
        if 'target' not in encoded or 'target_weight' not in encoded:
            raise KeyError(f'{describe_sample(results)}: '
                           f'{type(self.encoder).__name__}.encode returned '
                           f'{sorted(encoded)}, without target/target_weight')
        for name, value in encoded.items():
            value = np.asarray(value, dtype=np.float32)
            if not has_gt and name in ('target', 'target_weight'):
                value = np.zeros_like(value)
            results[_ENCODE_OUTPUT_KEYS.get(name, name)] = value
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(encoder={self.encoder!r})'
