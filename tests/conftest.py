"""Shared fixtures: a tiny synthetic Ego-Exo4D set, generated once per session."""
import os

import pytest

# Tests measure values, not speed: one thread each keeps `-n 2` from
# oversubscribing the two cores.
os.environ.setdefault('OMP_NUM_THREADS', '1')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """A 6-take synthetic set in the official layout (annotations, cameras,
    images), about 200 hands."""
    from hp3d.datasets.synthetic import generate_dataset
    root = tmp_path_factory.mktemp('synthetic_egoexo4d')
    generate_dataset(str(root), num_takes=6, frames_per_take=16, seed=0,
                     workers=1, progress=False)
    return root
