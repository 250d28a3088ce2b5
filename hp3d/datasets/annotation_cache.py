"""Checked samples of an annotation file, kept beside it for later runs.

Parsing and checking an official annotation file is most of a lifting run's
start-up: 1.5 s for the 21k-hand synthetic train file, and the real files
are larger. :class:`AnnotationCache` keeps what the checks produced (the
samples' arrays, the rejections, the takes without a camera file) in one
``.npz`` without pickles, ``{dir}/.hp3d_cache/{file name}.npz``, and hands
it back only while everything the samples depend on is unchanged:

- the annotation file's bytes (a BLAKE2b digest, ~30 ms for 28 MB);
- the loader's arguments and the source of the code that checks records,
  which the dataset passes as ``key``;
- the camera file of each take that has samples (path, size and
  modification time; a take without one must still lack it), which the
  dataset checks with :attr:`CacheEntry.cameras`.

Anything else (no cache yet, another key, an unreadable file) reads as a
miss, and the file is parsed again. Writes go to a temporary file of their
own renamed into place (:func:`hp3d.utils.atomic_io.replace_atomically`),
so concurrent DDP ranks and killed runs leave either the old entry or the
new one; a directory that cannot be written is reported and
the run goes on without a cache.
"""
import hashlib
import json
import os
import os.path as osp
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
from mmengine.logging import MMLogger

from hp3d.utils.atomic_io import TMP_SUFFIX, replace_atomically

__all__ = ['AnnotationCache', 'CacheEntry', 'CACHE_DIRNAME', 'file_digest']

CACHE_DIRNAME = '.hp3d_cache'
# Layout of the .npz; a change makes older entries misses.
_FORMAT = 1
# Entries of the .npz that are not sample arrays.
_KEY, _REJECTIONS, _CAMERAS = '_key', '_rejections', '_cameras'
_CHUNK = 1 << 20


def file_digest(path: str) -> str:
    """BLAKE2b hex digest of a file's bytes."""
    digest = hashlib.blake2b(digest_size=20)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class CacheEntry:
    """What a cached load produced.

    Attributes:
        arrays (dict): Per-sample numpy arrays, N rows each (the dataset
            chooses the keys; strings as unicode arrays).
        rejections (list[dict]): The rejected records, as
            ``Rejection.to_dict()``.
        cameras (dict): Take uid -> ``[size, mtime_ns]`` of the camera file
            its samples' intrinsics came from, or None where the take had
            none.
    """
    arrays: Dict[str, np.ndarray]
    rejections: List[Dict[str, Optional[str]]]
    cameras: Dict[str, Optional[List[int]]]


class AnnotationCache:
    """The cache entry of one annotation file under one key.

    Args:
        ann_file (str): The annotation file.
        key (dict): JSON-serialisable description of everything besides the
            file's bytes that the samples depend on (loader arguments, code
            version). The file's digest is added to it.
    """

    def __init__(self, ann_file: str, key: dict) -> None:
        self.ann_file = ann_file
        self.path = osp.join(
            osp.dirname(osp.abspath(ann_file)), CACHE_DIRNAME,
            osp.basename(ann_file) + '.npz')
        self.key = json.dumps(
            dict(key, format=_FORMAT, file=file_digest(ann_file)),
            sort_keys=True)

    def load(self) -> Optional[CacheEntry]:
        """The entry, or None when there is none for this key."""
        if not osp.isfile(self.path):
            return None
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                if str(npz[_KEY]) != self.key:
                    return None
                meta = {name: json.loads(str(npz[name]))
                        for name in (_REJECTIONS, _CAMERAS)}
                arrays = {name: npz[name] for name in npz.files
                          if not name.startswith('_')}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            MMLogger.get_current_instance().warning(
                f'{self.path}: unreadable annotation cache ({e}); parsing '
                f'{self.ann_file} again')
            return None
        return CacheEntry(arrays, meta[_REJECTIONS], meta[_CAMERAS])

    def save(self, entry: CacheEntry) -> None:
        """Write the entry atomically; report it if it cannot be."""
        tmp = None
        try:
            os.makedirs(osp.dirname(self.path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                dir=osp.dirname(self.path),
                prefix=osp.basename(self.path) + '.', suffix=TMP_SUFFIX)
            with os.fdopen(fd, 'wb') as f:
                np.savez(
                    f, **entry.arrays,
                    **{_KEY: np.array(self.key),
                       _REJECTIONS: np.array(json.dumps(entry.rejections)),
                       _CAMERAS: np.array(json.dumps(entry.cameras))})
            replace_atomically(tmp, self.path)
        except OSError as e:
            MMLogger.get_current_instance().warning(
                f'Cannot write the annotation cache {self.path} ({e}); '
                f'{self.ann_file} will be parsed again next time')
        finally:
            if tmp is not None and osp.exists(tmp):
                os.remove(tmp)
