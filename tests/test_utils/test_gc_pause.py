"""gc_paused: the cyclic collector is off inside, as it was after."""
import gc

import pytest

from hp3d.utils import gc_paused


@pytest.mark.parametrize('enabled', [True, False])
def test_collector_off_inside_and_restored_after(enabled):
    (gc.enable if enabled else gc.disable)()
    try:
        with gc_paused():
            assert not gc.isenabled()
            with gc_paused():  # nested: the outer pause still holds after
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled() == enabled
        with pytest.raises(KeyError):
            with gc_paused():
                raise KeyError('a failed parse')
        assert gc.isenabled() == enabled
    finally:
        gc.enable()


def test_decorated_function_runs_paused():
    @gc_paused()
    def parse():
        return gc.isenabled()

    assert gc.isenabled()
    assert parse() is False
    assert gc.isenabled()
