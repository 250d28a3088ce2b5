"""Process-group set-up for CPU-only machines.

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` for the ``pytorch``
and ``slurm`` launchers, which fails where there is no GPU. On such machines
hp3d starts a ``gloo`` process group itself from the launcher's environment;
with GPUs mmengine's own set-up (``nccl``, one process per GPU) is used.
"""
import datetime
import gc
import os
import subprocess
from typing import Optional

import torch.distributed as torch_dist

__all__ = ['CPU_BACKEND', 'init_cpu_dist', 'destroy_dist']

CPU_BACKEND = 'gloo'
# What torchrun exports and ``init_process_group('env://')`` reads.
_ENV_KEYS = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')
# torch.distributed's conventional default port.
_DEFAULT_PORT = '29500'


def _export_slurm_env() -> None:
    """Translate srun's variables into torchrun's (as mmengine does)."""
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ['SLURM_LOCALID']
    os.environ.setdefault('MASTER_PORT', _DEFAULT_PORT)
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        try:
            hosts = subprocess.run(
                ['scontrol', 'show', 'hostnames', node_list],
                capture_output=True, text=True, check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError) as err:
            # mmengine would take the shell's error text for the address
            raise RuntimeError(
                f'--launcher slurm: cannot resolve the first node of '
                f'SLURM_NODELIST={node_list!r} with scontrol ({err}); set '
                'MASTER_ADDR') from err
        if not hosts:
            raise RuntimeError(f'scontrol lists no host for SLURM_NODELIST='
                               f'{node_list!r}; set MASTER_ADDR')
        os.environ['MASTER_ADDR'] = hosts[0]


def init_cpu_dist(launcher: str, timeout_s: Optional[float] = None) -> None:
    """Start a ``gloo`` process group for a multi-process run without GPUs.

    Args:
        launcher (str): ``'pytorch'`` (torchrun: ``RANK``, ``WORLD_SIZE``,
            ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) or ``'slurm'``
            (srun: ``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``,
            ``SLURM_NODELIST``; ``MASTER_ADDR``/``MASTER_PORT`` if set).
        timeout_s (float, optional): Seconds a collective may wait for the
            other ranks before it fails (torch's default, 30 min, if None).
    """
    if launcher == 'slurm':
        _export_slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f"launcher must be 'pytorch' or 'slurm' for CPU "
                         f"distributed runs, got {launcher!r}")
    missing = [key for key in _ENV_KEYS if key not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher {launcher} needs the environment variables '
            f'{missing}; start the tool with tools/dist_train.sh, '
            'tools/dist_test.sh (torchrun) or the slurm scripts')
    kwargs = {}
    if timeout_s is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=timeout_s)
    torch_dist.init_process_group(
        backend=CPU_BACKEND,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def destroy_dist() -> None:
    """Tear down the default process group, if one was started.

    The tools call it when a run has finished, after dropping the runner: a
    gloo group left to interpreter shutdown, or one still referenced by a
    DDP model's reducer, aborted a rank in 2-5 of 10 successful runs here
    ("terminate called without an active exception", exit code -6), which
    torchrun then reports as a failed job. The runner holds reference
    cycles, so the garbage collector runs first.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        gc.collect()
        torch_dist.destroy_process_group()
