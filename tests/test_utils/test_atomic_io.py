"""Atomic file replacement."""
import os

import pytest

from hp3d.utils.atomic_io import replace_atomically, write_text_atomic


def test_write_text_atomic_replaces_content(tmp_path):
    path = str(tmp_path / 'last_checkpoint')
    write_text_atomic(path, 'epoch_1.pth')
    write_text_atomic(path, 'epoch_2.pth')
    assert open(path).read() == 'epoch_2.pth'
    assert os.listdir(tmp_path) == ['last_checkpoint']


def test_interrupted_text_write_keeps_old_content(tmp_path, monkeypatch):
    path = str(tmp_path / 'last_checkpoint')
    write_text_atomic(path, 'epoch_1.pth')

    def crash(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', crash)
    with pytest.raises(OSError, match='disk full'):
        write_text_atomic(path, 'epoch_2.pth')
    assert open(path).read() == 'epoch_1.pth'
    assert os.listdir(tmp_path) == ['last_checkpoint']


def test_replace_atomically_moves_complete_file(tmp_path):
    tmp, final = tmp_path / 'a.pth.tmp', tmp_path / 'a.pth'
    final.write_bytes(b'old')
    tmp.write_bytes(b'new')
    replace_atomically(str(tmp), str(final))
    assert final.read_bytes() == b'new'
    assert not tmp.exists()


def test_writes_are_synced_before_and_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(('fsync', os.readlink(f'/proc/self/fd/{fd}')))
        real_fsync(fd)

    def replace(src, dst):
        events.append(('replace', str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'replace', replace)
    path = str(tmp_path / 'last_checkpoint')
    write_text_atomic(path, 'epoch_1.pth')
    tmp = tmp_path / 'a.pth.tmp'
    tmp.write_bytes(b'new')
    replace_atomically(str(tmp), str(tmp_path / 'a.pth'))
    # the data reaches the disk under the temporary name, then the rename,
    # then the directory entry
    assert events == [
        ('fsync', path + '.tmp'), ('replace', path + '.tmp', path),
        ('fsync', str(tmp_path)),
        ('fsync', str(tmp)), ('replace', str(tmp), str(tmp_path / 'a.pth')),
        ('fsync', str(tmp_path)),
    ]
