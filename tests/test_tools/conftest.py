"""Shared set-up of the tool tests: the engine's toy components, markers."""
import importlib.util
import os.path as osp
import sys

import pytest

_TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
_TOYS = osp.join(_TESTS, 'test_engine')
_TOOLS = osp.join(osp.dirname(_TESTS), 'tools')
if _TOYS not in sys.path:
    sys.path.insert(0, _TOYS)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'dist: starts several processes through torchrun (CPU)')


def _load_tool(name: str):
    """Import tools/<name>.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f'hp3d_tools_{name}', osp.join(_TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def train_script():
    return _load_tool('train')


@pytest.fixture(scope='session')
def test_script():
    return _load_tool('test')
