"""Train a model from a config (mmpose's ``tools/train.py``, on hp3d's engine).

Examples::

    python tools/train.py CONFIG
    python tools/train.py CONFIG --resume              # from work_dir's last
    python tools/train.py CONFIG --resume CKPT --amp
    bash tools/dist_train.sh CONFIG 2                  # torchrun, CPU or GPU
"""
import argparse
import gc
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.device import get_device

# hp3d.engine also sets up safe checkpoint loading and registers Hp3dRunner
from hp3d.engine import Hp3dRunner, destroy_dist, unknown_types_explained
from hp3d.registry import RUNNERS


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description='Train a hp3d model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from the last '
        'checkpoint of the work dir (its `last_checkpoint` file)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (AmpOptimWrapper, dynamic loss '
        'scale; GPU only)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not validate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the total batch size '
        '(cfg.auto_scale_lr.base_batch_size)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs (merged before the '
        'other flags apply), '
        'e.g. --cfg-options train_cfg.max_epochs=5 randomness.seed=1')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank; torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config.

    Args:
        cfg (Config): The loaded config.
        args (Namespace): The parsed command line.

    Returns:
        Config: ``cfg``, modified in place.
    """
    # first, as in mmpose: the flags below apply to the merged config (e.g.
    # an auto_scale_lr given on the command line)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if 'runner_type' not in cfg:
        cfg.runner_type = Hp3dRunner.__name__

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        if get_device() == 'cpu':
            # mmengine's AmpOptimWrapper would fail only after building
            # datasets and model
            raise ValueError('--amp needs a GPU (or NPU/MLU/MUSA): '
                             "mmengine's AmpOptimWrapper does not run on CPU")
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                '--amp needs optim_wrapper.type OptimWrapper or '
                f'AmpOptimWrapper, but the config has {optim_wrapper!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in (
                cfg.auto_scale_lr):
            raise ValueError('--auto-scale-lr needs '
                             'auto_scale_lr=dict(base_batch_size=...) in '
                             'the config')
        cfg.auto_scale_lr.enable = True

    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    with unknown_types_explained():
        runner = RUNNERS.build(cfg)
        # What exists now (torch's modules, the model, the data) lives for
        # the whole run: out of the collector's way, its full collections
        # walk only what training makes (each walked ~570k objects, 0.2-0.3
        # s, a few times per lifting run).
        gc.freeze()
        runner.train()
    # a DDP-wrapped model keeps the process group alive: drop it first
    del runner
    destroy_dist()


if __name__ == '__main__':
    main()
    # Everything is written and closed. Python's collections at exit would
    # walk the millions of objects torch.compile's modules keep (~1 s here);
    # the operating system frees them anyway.
    gc.freeze()
