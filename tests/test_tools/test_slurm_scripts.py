"""slurm_train.sh / slurm_test.sh hand srun the right job (srun is faked)."""
import os
import os.path as osp
import subprocess

import pytest
from engine_toys import TOOLS_DIR

# Records its arguments, one per line, instead of submitting a job.
FAKE_SRUN = '#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$SRUN_LOG"\n'


@pytest.fixture
def fake_srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(0o755)
    log = tmp_path / 'srun_args.txt'
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}',
               SRUN_LOG=str(log), GPUS='16', GPUS_PER_NODE='8',
               CPUS_PER_TASK='4', SRUN_ARGS='--quotatype=auto -x node3',
               PYTHON='python3')

    def run(script: str, *args: str, **extra_env: str) -> list:
        subprocess.run(['bash', osp.join(TOOLS_DIR, script), *args],
                       env=dict(env, **extra_env), check=True, timeout=60)
        return log.read_text().splitlines()

    return run


def test_slurm_train_launches_one_task_per_gpu(fake_srun):
    argv = fake_srun('slurm_train.sh', 'gpu', 'job1', 'cfg.py', 'work',
                     '--amp', '--cfg-options', 'a=1 2')
    assert argv == [
        '-p', 'gpu', '--job-name=job1', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=4', '--kill-on-bad-exit=1',
        '--quotatype=auto', '-x', 'node3', 'python3', '-u',
        osp.join(TOOLS_DIR, 'train.py'), 'cfg.py', '--work-dir=work',
        '--launcher=slurm', '--amp', '--cfg-options', 'a=1 2'
    ]


def test_slurm_test_passes_the_checkpoint(fake_srun):
    argv = fake_srun('slurm_test.sh', 'gpu', 'job2', 'cfg.py', 'model.pth',
                     '--out', 'r.pkl')
    assert argv[:2] == ['-p', 'gpu'] and '--job-name=job2' in argv
    assert argv[argv.index('python3'):] == [
        'python3', '-u',
        osp.join(TOOLS_DIR, 'test.py'), 'cfg.py', 'model.pth',
        '--launcher=slurm', '--out', 'r.pkl'
    ]


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh'])
def test_slurm_on_a_cpu_partition_requests_no_gpu(fake_srun, script):
    argv = fake_srun(script, 'cpu', 'job3', 'cfg.py', 'x', GRES='')
    assert not any(arg.startswith('--gres') for arg in argv)
    assert '--ntasks=16' in argv and '--ntasks-per-node=8' in argv
    argv = fake_srun(script, 'gpu', 'job3', 'cfg.py', 'x', GRES='gpu:a100:8')
    assert '--gres=gpu:a100:8' in argv


def test_missing_arguments_print_usage(tmp_path):
    result = subprocess.run(
        ['bash', osp.join(TOOLS_DIR, 'dist_train.sh'), 'cfg.py'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'usage: bash' in result.stderr and 'NUM_PROCS' in result.stderr
