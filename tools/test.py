"""Test (and evaluate) a checkpoint (mmpose's ``tools/test.py``, hp3d engine).

Examples::

    python tools/test.py CONFIG CKPT
    python tools/test.py CONFIG CKPT --dump-submission preds.json
    python tools/test.py CONFIG CKPT --out results.pkl --show-dir vis
    bash tools/dist_test.sh CONFIG CKPT 2
"""
import argparse
import inspect
import os
import os.path as osp
from typing import List

from mmengine.config import Config, ConfigDict, DictAction

# hp3d.engine also sets up safe checkpoint loading and registers Hp3dRunner
from hp3d.engine import Hp3dRunner, destroy_dist, unknown_types_explained
from hp3d.registry import DATASETS, METRICS, RUNNERS

SUBMISSION_ARG = 'submission_file'


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a hp3d model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the directory to save logs and results')
    parser.add_argument(
        '--dump-submission',
        help='write the predictions in the official submission format to '
        f'this file (sets `{SUBMISSION_ARG}` on the test metrics that take '
        'it)')
    parser.add_argument(
        '--out',
        help='dump the raw predictions to this pickle file (mmengine '
        'DumpResults)')
    parser.add_argument(
        '--show-dir',
        help='draw predictions into this directory (the visualization '
        'hook of default_hooks)')
    parser.add_argument(
        '--interval',
        type=int,
        help='with --show-dir, draw every n-th sample')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs (merged before the '
        'other flags apply)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _as_list(evaluator) -> List[ConfigDict]:
    """The metric configs of ``test_evaluator`` (one dict or a list)."""
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        raise ValueError('test_evaluator must be a metric config or a list '
                         'of them, not an Evaluator config')
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [
        evaluator
    ]


def _accepts(metric_cfg: dict, arg: str) -> bool:
    metric_type = metric_cfg['type']
    metric_cls = (metric_type if inspect.isclass(metric_type) else
                  METRICS.get(metric_type))
    if metric_cls is None:
        raise KeyError(f'test_evaluator metric {metric_type!r} is not '
                       'registered')
    return arg in inspect.signature(metric_cls).parameters


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config.

    Args:
        cfg (Config): The loaded config.
        args (Namespace): The parsed command line.

    Returns:
        Config: ``cfg``, modified in place.
    """
    # first, as in mmpose: the flags below apply to the merged config (and
    # --out makes the evaluator a list, which dotted options cannot reach)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    if 'runner_type' not in cfg:
        cfg.runner_type = Hp3dRunner.__name__

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.interval is not None and args.show_dir is None:
        raise ValueError('--interval applies to --show-dir, which is not '
                         'given')
    if args.show_dir is not None:
        if 'visualization' not in cfg.get('default_hooks', {}):
            raise ValueError(
                '--show-dir needs a visualization hook in the config: '
                "default_hooks.visualization=dict(type="
                "'Hand3DVisualizationHook', enable=False) (as in "
                'configs/_base_/default_runtime.py)')
        cfg.default_hooks.visualization.enable = True
        cfg.default_hooks.visualization.out_dir = args.show_dir
        if args.interval is not None:
            cfg.default_hooks.visualization.interval = args.interval

    metrics = _as_list(cfg.test_evaluator)
    if args.dump_submission is not None:
        takers = [m for m in metrics if _accepts(m, SUBMISSION_ARG)]
        if not takers:
            raise ValueError(
                f'--dump-submission: no metric of test_evaluator '
                f'({[m["type"] for m in metrics]}) takes `{SUBMISSION_ARG}`; '
                "add dict(type='EgoExo4DHandMetric')")
        for metric in takers:
            metric[SUBMISSION_ARG] = args.dump_submission
        _cover_every_hand(cfg, takers)

    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl/.pickle file, got '
                             f'{args.out}')
        cfg.test_evaluator = [
            *metrics, ConfigDict(type='DumpResults', out_file_path=args.out)
        ]
    return cfg


def _cover_every_hand(cfg: Config, metrics: List[ConfigDict]) -> None:
    """Make a submission hold every annotated hand of the test file.

    The test dataset keeps hands with few valid joints (its
    ``min_valid_joints`` would drop them silently) and ``metrics`` check
    coverage against its annotation file, unless they name one already.
    """
    dataset = cfg.test_dataloader.dataset
    while 'ann_file' not in dataset and isinstance(dataset.get('dataset'),
                                                   dict):
        dataset = dataset.dataset  # wrappers such as LiftingTensorDataset
    if 'ann_file' not in dataset:
        return
    dataset_type = dataset['type']
    dataset_cls = (dataset_type if inspect.isclass(dataset_type) else
                   DATASETS.get(dataset_type))
    if (dataset_cls is not None and 'min_valid_joints'
            in inspect.signature(dataset_cls).parameters):
        dataset.min_valid_joints = 0
    ann_file = dataset.ann_file
    if dataset.get('data_root') and not osp.isabs(ann_file):
        ann_file = osp.join(dataset.data_root, ann_file)
    for metric in metrics:
        if _accepts(metric, 'ann_file') and metric.get('ann_file') is None:
            metric.ann_file = ann_file


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    with unknown_types_explained():
        runner = RUNNERS.build(cfg)
        runner.test()
    # a DDP-wrapped model keeps the process group alive: drop it first
    del runner
    destroy_dist()


if __name__ == '__main__':
    main()
