"""Crash-safe file replacement: a reader sees the old file or the new one.

A file written in place and interrupted (SIGKILL, power loss, full disk) is
left truncated under its final name. Writing a sibling temporary file,
flushing it to disk and renaming it over the target avoids that: ``rename``
within one directory is atomic on POSIX file systems, and syncing the
directory makes the new name itself durable.
"""
import os
import os.path as osp

__all__ = [
    'TMP_SUFFIX', 'replace_atomically', 'write_bytes_atomic',
    'write_text_atomic'
]

# Suffix of the sibling file a write goes to before it is renamed.
TMP_SUFFIX = '.tmp'


def _fsync_dir(dirname: str) -> None:
    fd = os.open(dirname or '.', os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(tmp_path: str, path: str) -> None:
    """Make the complete file ``tmp_path`` durable and rename it to ``path``.

    Args:
        tmp_path (str): A fully written file in the directory of ``path``.
        path (str): The final name; an existing file there is replaced.
    """
    with open(tmp_path, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(osp.dirname(path))


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file.

    Args:
        path (str): Destination file.
        data (bytes): Content.
    """
    tmp_path = path + TMP_SUFFIX
    try:
        with open(tmp_path, 'wb') as f:
            f.write(data)
        replace_atomically(tmp_path, path)
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` as UTF-8, as :func:`write_bytes_atomic`."""
    write_bytes_atomic(path, text.encode('utf-8'))
