import ctypes
import os

import pytest

from hp3d.models.ops import KernelBuildError, cpp_build

SOURCE = 'extern "C" int answer() {{ return {}; }}\n'


@pytest.fixture
def csrc(tmp_path, monkeypatch):
    """An empty source folder and cache."""
    src = tmp_path / 'csrc'
    src.mkdir()
    monkeypatch.setattr(cpp_build, 'CSRC', str(src))
    monkeypatch.setenv(cpp_build.CACHE_ENV, str(tmp_path / 'cache'))
    return src


def _answer(lib: ctypes.CDLL) -> int:
    return lib.answer()


def test_built_once_then_loaded_from_the_cache(csrc, tmp_path, monkeypatch):
    (csrc / 'toy.cpp').write_text(SOURCE.format(41))
    assert _answer(cpp_build.load_library('toy')) == 41
    built = sorted(os.listdir(tmp_path / 'cache'))
    assert len(built) == 1 and built[0].startswith('toy-')

    # a second load (a new process) finds the build: no compiler call
    calls = []
    run = cpp_build.subprocess.run
    monkeypatch.setattr(cpp_build.subprocess, 'run',
                        lambda cmd, **kw: calls.append(cmd) or run(cmd, **kw))
    assert _answer(cpp_build.load_library('toy')) == 41
    assert [cmd[1] for cmd in calls] == ['--version']
    assert sorted(os.listdir(tmp_path / 'cache')) == built


def test_edited_source_builds_anew(csrc, tmp_path):
    (csrc / 'toy.cpp').write_text(SOURCE.format(1))
    assert _answer(cpp_build.load_library('toy')) == 1
    (csrc / 'toy.cpp').write_text(SOURCE.format(2))
    assert _answer(cpp_build.load_library('toy')) == 2
    assert len(os.listdir(tmp_path / 'cache')) == 2


def test_other_instruction_set_builds_anew(csrc, tmp_path, monkeypatch):
    (csrc / 'toy.cpp').write_text(SOURCE.format(3))
    cpp_build.load_library('toy')
    monkeypatch.setattr(cpp_build.torch.backends.cpu, 'get_cpu_capability',
                        lambda: 'DEFAULT')
    assert _answer(cpp_build.load_library('toy')) == 3
    assert len(os.listdir(tmp_path / 'cache')) == 2


def test_compiler_error_is_reported_and_nothing_is_left(csrc, tmp_path):
    (csrc / 'toy.cpp').write_text('int broken( {\n')
    with pytest.raises(KernelBuildError, match=(
            r'building .*toy\.cpp failed \(g\+\+ -O3[^\n]*\):\n[\s\S]*error')):
        cpp_build.load_library('toy')
    assert os.listdir(tmp_path / 'cache') == []


def test_missing_compiler_is_named(csrc, monkeypatch):
    (csrc / 'toy.cpp').write_text(SOURCE.format(4))
    monkeypatch.setenv('CXX', 'no-such-c++')
    with pytest.raises(KernelBuildError,
                       match=r"no C\+\+ compiler 'no-such-c\+\+' on PATH "
                       r'\(set \$CXX\)'):
        cpp_build.load_library('toy')


def test_unwritable_cache_is_named(csrc, tmp_path, monkeypatch):
    (csrc / 'toy.cpp').write_text(SOURCE.format(5))
    (tmp_path / 'a_file').write_text('')
    cache = tmp_path / 'a_file' / 'kernels'
    monkeypatch.setenv(cpp_build.CACHE_ENV, str(cache))
    with pytest.raises(KernelBuildError, match=(
            rf'cannot write the kernel cache {cache} .*; set '
            r'\$HP3D_KERNEL_CACHE to a writable directory')):
        cpp_build.load_library('toy')


def test_default_cache_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(cpp_build.CACHE_ENV, raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    assert cpp_build.cache_dir() == str(tmp_path / 'hp3d' / 'kernels')
