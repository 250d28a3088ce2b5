"""Decode the frame of a sample, with a policy for bad files."""
import logging
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get
from mmengine.logging import print_log

from hp3d.registry import TRANSFORMS

from .utils import describe_sample

__all__ = ['jpeg_size', 'LoadImage']

_JPEG_SOI = b'\xff\xd8'
_JPEG_EOI = b'\xff\xd9'
# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG), CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_JPEG_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}
# EXIF orientation is ignored: annotations are in stored pixel order.
_DECODE_FLAGS = {
    1: cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION,
    2: cv2.IMREAD_REDUCED_COLOR_2 | cv2.IMREAD_IGNORE_ORIENTATION,
    4: cv2.IMREAD_REDUCED_COLOR_4 | cv2.IMREAD_IGNORE_ORIENTATION,
    8: cv2.IMREAD_REDUCED_COLOR_8 | cv2.IMREAD_IGNORE_ORIENTATION,
}
_ON_ERROR = ('raise', 'skip')


def jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(height, width) from a JPEG header, without decoding.

    Args:
        data (bytes): The file's content.

    Returns:
        tuple[int, int] | None: The size, or None when no start-of-frame
        segment is found.
    """
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
        elif marker in _JPEG_SOF:
            return (int.from_bytes(data[i + 5:i + 7], 'big'),
                    int.from_bytes(data[i + 7:i + 9], 'big'))
        elif marker in _JPEG_STANDALONE:
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], 'big')
    return None


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Decode ``img_path`` to an (h, w, 3) uint8 BGR image (cv2).

    Grayscale and 4-channel files become 3-channel BGR (alpha dropped). A
    sample that already holds an in-memory ``img`` (an inferencer's input
    array) is taken as it is, with the same conversions and size check.
    A missing, empty, undecodable or truncated file (a JPEG without its
    end-of-image marker), or one whose size is not ``expected_size``, is
    bad: ``on_error='raise'`` raises an error naming the path and the
    problem; ``on_error='skip'`` logs a counted warning and returns None, so
    mmengine's ``BaseDataset`` draws another index in training (in test mode
    it raises: evaluation never drops a hand silently).

    Reduced-size decoding: a JPEG can be decoded at 1/2, 1/4 or 1/8 size in
    the DCT domain, which averages r x r blocks. When the crop window spans
    at least r source pixels per input pixel the crop downsamples by r or
    more anyway, so decoding at 1/r loses nothing the crop keeps (see
    docs/benchmarks_data.md for the measured difference). This needs the
    window, so ``GetBBoxCenterScale``/``RandomBBoxTransform`` run first.

    Required keys: ``img_path`` (or ``img``, a uint8 array); ``scale`` (2,)
    px for reduced decoding.
    Added keys: ``img``, ``img_shape`` (h, w) decoded, ``ori_shape`` (h, w)
    of the file, ``img_scale_factor`` (sx, sy) = (1 / r, 1 / r) for a
    reduction r (decoded pixel i sits at file pixel (i + 0.5) / s - 0.5;
    ``TopdownAffine`` uses it so the geometry stays in file pixels).

    Args:
        on_error (str): ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
        expected_size (tuple[int, int] | None): (w, h) every file must have;
            None checks nothing. Defaults to None.
        max_decode_reduction (int): Largest reduction allowed, 1 (always
            full size), 2, 4 or 8. Defaults to 1.
        input_size (tuple[int, int] | None): (w, h) of the crop, needed when
            ``max_decode_reduction > 1``. Defaults to None.
        backend_args (dict | None): mmengine file backend arguments.
            Defaults to None (local files).
    """

    def __init__(self, on_error: str = 'raise',
                 expected_size: Optional[Tuple[int, int]] = None,
                 max_decode_reduction: int = 1,
                 input_size: Optional[Tuple[int, int]] = None,
                 backend_args: Optional[dict] = None) -> None:
        if on_error not in _ON_ERROR:
            raise ValueError(f'on_error must be one of {_ON_ERROR}, '
                             f'got {on_error!r}')
        if max_decode_reduction not in _DECODE_FLAGS:
            raise ValueError('max_decode_reduction must be one of '
                             f'{tuple(_DECODE_FLAGS)}, got '
                             f'{max_decode_reduction}')
        if max_decode_reduction > 1 and input_size is None:
            raise ValueError('reduced decoding needs input_size (w, h)')
        self.on_error = on_error
        self.expected_size = (None if expected_size is None else
                              (int(expected_size[0]), int(expected_size[1])))
        self.max_decode_reduction = max_decode_reduction
        self.input_size = None if input_size is None else tuple(input_size)
        self.backend_args = backend_args
        self.num_skipped = 0

    def _reduction(self, results: Dict) -> int:
        """Largest allowed r with at least r source px per input px."""
        if self.max_decode_reduction == 1 or 'scale' not in results:
            return 1
        scale = np.asarray(results['scale'], dtype=np.float64)
        src_per_out = min(scale[0] / self.input_size[0],
                          scale[1] / self.input_size[1])
        limit = min(self.max_decode_reduction, src_per_out)
        # a window smaller than the input (upsampling) decodes at full size
        return max(r for r in _DECODE_FLAGS if r == 1 or r <= limit)

    def _decode(self, path: str, reduction: int
                ) -> Tuple[np.ndarray, Tuple[int, int], int]:
        """Decode or raise a ValueError/FileNotFoundError naming the path.

        Returns the image, the file's (h, w) and the reduction used.
        """
        if not path:
            raise FileNotFoundError(
                'empty img_path: the dataset was built without an image root')
        try:
            data = get(path, backend_args=self.backend_args)
        except OSError as err:
            raise FileNotFoundError(f'{path}: cannot be read: {err}') from err
        if len(data) == 0:
            raise ValueError(f'{path}: empty file (0 bytes)')
        is_jpeg = data[:2] == _JPEG_SOI
        if is_jpeg and data.rstrip(b'\x00')[-2:] != _JPEG_EOI:
            raise ValueError(f'{path}: truncated JPEG (no end-of-image marker)')
        if not is_jpeg:
            reduction = 1
        ori_shape = jpeg_size(data) if reduction > 1 else None
        if reduction > 1 and ori_shape is None:
            raise ValueError(f'{path}: corrupt JPEG header (no frame size)')
        img = cv2.imdecode(np.frombuffer(data, np.uint8),
                           _DECODE_FLAGS[reduction])
        if img is None:
            raise ValueError(f'{path}: corrupt, cannot be decoded as an image')
        if ori_shape is None:
            ori_shape = img.shape[:2]
        self._check_size(path, ori_shape)
        return img, ori_shape, reduction

    def _from_array(self, img: np.ndarray, name: str) -> np.ndarray:
        """An in-memory image as 3-channel BGR, or a ValueError."""
        if (not isinstance(img, np.ndarray) or img.dtype != np.uint8
                or img.ndim not in (2, 3)
                or (img.ndim == 3 and img.shape[2] not in (1, 3, 4))):
            got = (f'{img.dtype} {img.shape}' if isinstance(img, np.ndarray)
                   else type(img).__name__)
            raise ValueError(f'{name}: expected an (H, W[, 1|3|4]) uint8 '
                             f'array, got {got}')
        if img.ndim == 2 or img.shape[2] == 1:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
        self._check_size(name, img.shape[:2])
        return img

    def _check_size(self, name: str, shape: Tuple[int, int]) -> None:
        if (self.expected_size is not None
                and (shape[1], shape[0]) != self.expected_size):
            raise ValueError(
                f'{name}: size {shape[1]}x{shape[0]} (w x h), '
                f'expected {self.expected_size[0]}x{self.expected_size[1]}')

    def _load(self, results: Dict) -> Tuple[np.ndarray, Tuple[int, int], int]:
        """The image, its source (h, w) and the decode reduction."""
        if 'img' in results:
            name = f'in-memory image of {describe_sample(results)}'
            img = self._from_array(results['img'], name)
            return img, img.shape[:2], 1
        return self._decode(results['img_path'], self._reduction(results))

    def transform(self, results: Dict) -> Optional[Dict]:
        try:
            img, ori_shape, reduction = self._load(results)
        except (ValueError, FileNotFoundError) as err:
            if self.on_error == 'raise':
                raise
            self.num_skipped += 1
            print_log(f'LoadImage skipped a bad image ({self.num_skipped} '
                      f'so far in this process): {err}', logger='current',
                      level=logging.WARNING)
            return None
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = tuple(ori_shape)
        # 1 / r exactly: a last partial block does not move pixel centres.
        results['img_scale_factor'] = (1.0 / reduction, 1.0 / reduction)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(on_error={self.on_error!r}, '
                f'expected_size={self.expected_size}, '
                f'max_decode_reduction={self.max_decode_reduction}, '
                f'input_size={self.input_size})')
