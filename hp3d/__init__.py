"""hp3d: 3D hand pose estimation on Ego-Exo4D, the OpenMMLab way."""
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

import mmengine
from mmengine.utils import digit_version

from .version import __version__

MMENGINE_MIN, MMENGINE_MAX = '0.10.0', '1.0.0'
MMCV_MIN, MMCV_MAX = '2.0.0', '2.3.0'


def _mmcv_version() -> str:
    """Version of ``mmcv`` or ``mmcv-lite`` (both install the ``mmcv`` module).

    ``mmcv.ops`` is never imported: hp3d runs on the pure-Python build.
    """
    for dist in ('mmcv', 'mmcv-lite'):
        try:
            return _dist_version(dist)
        except PackageNotFoundError:
            continue
    raise ImportError('hp3d needs mmcv-lite (or mmcv) >= {}, < {}: '
                      'pip install "mmcv-lite==2.2.0"'.format(
                          MMCV_MIN, MMCV_MAX))


def _check(name: str, found: str, low: str, high: str) -> None:
    if not digit_version(low) <= digit_version(found) < digit_version(high):
        raise ImportError(
            f'{name}=={found} is installed, but hp3d {__version__} needs '
            f'{low} <= {name} < {high}. Reinstall with `make install`.')


_check('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)
_check('mmcv', _mmcv_version(), MMCV_MIN, MMCV_MAX)

# Every checkpoint hp3d loads goes through the weights-only allow-list.
from . import engine  # noqa: E402,F401

__all__ = ['__version__']
