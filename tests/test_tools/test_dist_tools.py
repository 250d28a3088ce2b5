"""dist_train.sh / dist_test.sh on CPU: gloo DDP, N-vs-1 equality, failures.

Each test starts torchrun with 2 CPU processes (marker ``dist``).
"""
import glob
import json
import os.path as osp
import pickle
import subprocess
import time

import pytest
import torch
from engine_toys import (
    TOOLS_DIR,
    free_port,
    state_dict_of,
    subprocess_env,
    toy_cfg,
    write_toy_config,
)
from mmengine.config import Config

from hp3d.registry import RUNNERS

pytestmark = pytest.mark.dist

# No dropout, no BatchNorm, no input noise: one process with batches of 4
# and two with batches of 2 see the same samples per step (DefaultSampler
# gives rank r the indices r, r + 2, ...) and DDP averages the gradients.
DETERMINISTIC_MODEL = dict(type='EngineToyModel', dropout=0.0, norm=False)


def _loader(batch_size: int) -> dict:
    return dict(
        batch_size=batch_size, num_workers=0,
        collate_fn=dict(type='default_collate'),
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='EngineToyDataset', num_samples=20))


def _torchrun(script: str, *args: str, timeout: float = 300):
    return subprocess.run(
        ['bash', osp.join(TOOLS_DIR, script), *args],
        env=subprocess_env(PORT=str(free_port())),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout)


def _test_metrics(work_dir: str) -> dict:
    """The metrics tools/test.py logged to <work_dir>/<time>/<time>.json.

    Written by rank 0 only (MainProcessLoggerHook): the whole file is one
    JSON object, which mmengine's every-rank dump did not guarantee.
    """
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return json.load(f)


# the toy config's AdamW, as FlatAdam: its parameters become views of one
# buffer after DDP has wrapped the model
FLAT_ADAM = dict(optimizer=dict(type='FlatAdam', lr=0.01, weight_decay=0.01,
                                decoupled_weight_decay=True))


@pytest.mark.parametrize('optim_wrapper', [None, FLAT_ADAM],
                         ids=['AdamW', 'FlatAdam'])
def test_two_cpu_processes_train_like_one_with_the_total_batch(
        tmp_path, optim_wrapper):
    optim = {} if optim_wrapper is None else dict(optim_wrapper=optim_wrapper)
    config = write_toy_config(
        str(tmp_path / 'ddp.py'), str(tmp_path / 'ddp'),
        model=DETERMINISTIC_MODEL, train_dataloader=_loader(2), **optim)
    result = _torchrun('dist_train.sh', config, '2')
    assert result.returncode == 0, result.stdout[-3000:]
    assert 'started a gloo process group (rank 1 of 2)' in result.stdout

    single = RUNNERS.build(Config(toy_cfg(
        str(tmp_path / 'single'), model=DETERMINISTIC_MODEL,
        train_dataloader=_loader(4), **optim)))
    single.train()
    ddp = state_dict_of(str(tmp_path / 'ddp' / 'epoch_3.pth'))
    one = state_dict_of(str(tmp_path / 'single' / 'epoch_3.pth'))
    for key in one:
        # Same updates up to the order of float sums (~1e-8 here).
        assert torch.allclose(ddp[key], one[key], atol=1e-6), key
    # ... and training did move the weights.
    after_one_epoch = state_dict_of(str(tmp_path / 'ddp' / 'epoch_1.pth'))
    assert not torch.allclose(ddp['fc1.weight'], after_one_epoch['fc1.weight'])


def test_two_processes_evaluate_like_one_on_an_odd_sized_set(
        tmp_path, test_script):
    # 7 test samples: DefaultSampler pads rank 1 with a repeat of sample 0,
    # which mmengine's collect_results must drop.
    model = RUNNERS.build(Config(toy_cfg(str(tmp_path / 'init')))).model
    checkpoint = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    config = write_toy_config(str(tmp_path / 'toy.py'), str(tmp_path))

    result = _torchrun('dist_test.sh', config, checkpoint, '2', '--work-dir',
                       str(tmp_path / 'two'), '--out',
                       str(tmp_path / 'two.pkl'))
    assert result.returncode == 0, result.stdout[-3000:]
    args = test_script.parse_args([
        config, checkpoint, '--work-dir', str(tmp_path / 'one'), '--out',
        str(tmp_path / 'one.pkl')
    ])
    one_metrics = RUNNERS.build(
        test_script.merge_args(Config.fromfile(config), args)).test()

    assert 'count: 7  idx_sum: 21' in result.stdout
    assert (one_metrics['count'], one_metrics['idx_sum']) == (7, 21)
    # mmengine's json log keeps the float metrics (it writes ints as null).
    assert _test_metrics(str(tmp_path / 'two'))['mse'] == float(
        one_metrics['mse'])
    one = pickle.load(open(tmp_path / 'one.pkl', 'rb'))
    two = pickle.load(open(tmp_path / 'two.pkl', 'rb'))
    assert [p['sample_idx'] for p in two] == list(range(7))
    assert two == one


@pytest.mark.parametrize('hang', [False, True], ids=['raises', 'hangs'])
def test_a_failing_rank_takes_the_job_down(tmp_path, hang):
    # A raising rank closes its connections: the other rank fails at once.
    # A hanging rank is detected by the process-group timeout (10 s here,
    # dist_cfg.timeout); torchrun then stops the remaining process.
    config = write_toy_config(
        str(tmp_path / 'fail.py'), str(tmp_path),
        model=dict(type='EngineToyModel', fail_rank=1, fail_at_iter=2,
                   hang=hang),
        env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=10)))
    start = time.monotonic()
    result = _torchrun('dist_train.sh', config, '2', timeout=240)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert 'ChildFailedError' in result.stdout
    if hang:
        assert 'Timed out waiting 10000ms' in result.stdout
    else:
        assert 'toy failure on rank 1 at iter 2' in result.stdout
    assert elapsed < 200
    assert not osp.exists(osp.join(tmp_path, 'epoch_1.pth'))
