"""Lifting training speed, variants side by side in one run.

Three measurements on one train split, at the seed's batch 64:

1. ``model``: the model's own train step (forward, backward, Adam) on a
   fixed batch, one implementation after the other in every repeat:

   - ``reference``: the straightforward implementation (attention spelled
     out with ``bmm``, Adam's per-tensor loop);
   - ``fused``: ``F.scaled_dot_product_attention`` + ``foreach`` Adam (the
     default config; flash kernels on GPU);
   - ``compiled`` (``--compile``): the batch-last backbone, head and loss
     under ``torch.compile(dynamic=False)`` and fused Adam;
   - ``cpu_kernel_adam`` (``--compile``): the same with the attention in
     hp3d's C++ kernel (``hp3d.models.ops.joint_attention``), fused Adam;
   - ``cpu_kernel`` (``--compile``): what the ``-compile`` config runs: the
     previous with ``FlatAdam`` (Adam's update once over one buffer).
2. ``loop``: a training epoch fed by the data path: a per-sample DataLoader
   (pipeline per hand + ``default_collate``) against ``LiftingTensorDataset``
   (batches as tensor slices), each relative to as many model-only steps of
   the fastest implementation timed (on one fixed batch).
3. ``run`` (``--full-run``): wall time of the real mmengine run
   (``tools/train.py`` path: hooks, validation every epoch, checkpoints) for
   ``--epochs`` epochs, for each of ``--configs``.

Absolute times drift on shared machines; the ratios within one run are the
result. Prints a table and writes JSON.

Example::

    python tools/analysis_tools/benchmark_lifting.py \\
        --data-root data/synthetic_egoexo4d_21k --make-data \\
        --full-run --out work_dirs/benchmark_lifting.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import tempfile
import time
from functools import partial
from typing import Callable, Dict, List, Tuple

import torch
from mmengine import Config
from mmengine.dataset import DefaultSampler, default_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from hp3d.codecs import LiftingCodec
from hp3d.datasets import EgoExo4DHandDataset, LiftingTensorDataset, batched_collate
from hp3d.engine import FlatAdam
from hp3d.models.backbones import PoseTransformer
from hp3d.models.heads import JointRegressionHead

CONFIGS = (
    'configs/lifting/lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py',
    'configs/lifting/'
    'lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d-compile.py')
# name: (backbone impl, torch.compile the backbone, optimizer, its options)
IMPLS = {
    'reference': ('reference', False, torch.optim.Adam, dict(foreach=False)),
    'fused': ('fused', False, torch.optim.Adam, dict(foreach=True)),
    'compiled': ('batch_last', True, torch.optim.Adam, dict(fused=True)),
    'cpu_kernel_adam': ('cpu_kernel', True, torch.optim.Adam,
                        dict(fused=True)),
    'cpu_kernel': ('cpu_kernel', True, FlatAdam, dict(fused=True)),
}
TRAIN_ANN = 'annotations/ego_pose_gt_anno_train_public.json'
BATCH = 64
# Per-sample path: what a plain mmengine pipeline does for every hand.
PER_SAMPLE_PIPELINE = [
    dict(type='GenerateTarget', encoder=dict(type='LiftingCodec')),
    dict(type='PackInputs', inputs_key='lifting_inputs'),
]


def make_step(impl: str) -> Callable:
    """A train step ``step(inputs, data_samples)`` of one implementation.

    The compiled one compiles backbone, head and loss as one graph, as
    ``Hp3dRunner`` compiles the estimator's ``loss``.
    """
    backbone_impl, compiled, optimizer, options = IMPLS[impl]
    torch.manual_seed(0)
    backbone = PoseTransformer(impl=backbone_impl)
    head = JointRegressionHead(32, LiftingCodec())
    optim = optimizer(
        list(backbone.parameters()) + list(head.parameters()), lr=2e-4,
        **options)

    def loss(inputs, weight, target, target_weight):
        feats = backbone(inputs, weight)
        return head.loss(feats, dict(target=target,
                                     target_weight=target_weight))['loss_kpt']

    if compiled:
        loss = torch.compile(loss, dynamic=False)

    def step(inputs, samples):
        value = loss(inputs, samples['input_weight'], samples['target'],
                     samples['target_weight'])
        optim.zero_grad(set_to_none=True)
        value.backward()
        optim.step()

    return step


def best_time(fn: Callable, repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up), seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_ms(fns: Dict[str, Callable], repeats: int,
                   calls: int = 10) -> Dict[str, List[float]]:
    """Per-call ms of each function, the functions taking turns.

    Every repeat runs ``calls`` calls of each function in turn, so drifting
    machine load hits all of them alike; the result lists one mean per repeat
    and function.
    """
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) * 1e3 / calls)
    return times


def loaders(root: str) -> Dict[str, DataLoader]:
    """The two data paths over the same train split, shuffled alike."""
    ann = osp.join(root, TRAIN_ANN)
    no_img = dict(img='')
    per_sample = EgoExo4DHandDataset(ann, data_prefix=no_img,
                                     pipeline=PER_SAMPLE_PIPELINE)
    tensors = LiftingTensorDataset(
        EgoExo4DHandDataset(ann, data_prefix=no_img), LiftingCodec())
    return {
        'per-sample DataLoader':
        DataLoader(per_sample, BATCH, sampler=DefaultSampler(per_sample, seed=0),
                   collate_fn=default_collate),
        'LiftingTensorDataset':
        DataLoader(tensors, BATCH, sampler=DefaultSampler(tensors, seed=0),
                   collate_fn=batched_collate),
    }


def epoch_fn(loader: DataLoader, step: Callable = None) -> Callable:
    def run():
        for batch in loader:
            if step is not None:
                step(batch['inputs'].float(), batch['data_samples'])
    return run


def full_run(config: str, root: str, epochs: int) -> Tuple[float, float]:
    """Seconds of the real mmengine run (hooks, validation, checkpoints).

    Returns:
        tuple: wall time of the run, and the sum of its training iterations'
        times (``IterTimerHook``: data, step and hooks; no validation).
    """
    from hp3d.engine import Hp3dRunner
    cfg = Config.fromfile(config)
    cfg.train_cfg.max_epochs = epochs
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.dataset.data_root = root
    cfg.default_hooks.visualization.max_samples = 0
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.default_hooks.logger.interval = 1000
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        runner = Hp3dRunner.from_cfg(cfg)
        start = time.perf_counter()
        runner.train()
        wall = time.perf_counter() - start
        iter_s, _ = runner.message_hub.get_scalar('train/time').data
        return wall, float(iter_s.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synthetic_egoexo4d_21k')
    parser.add_argument('--make-data', action='store_true',
                        help='generate a ~21k-hand synthetic train split '
                        '(annotations only) at --data-root if missing')
    parser.add_argument('--repeats', type=int, default=15,
                        help='model-step repeats (10 steps each)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--compile', action='store_true',
                        help='also time the compiled implementations (the '
                        'first call compiles: ~1 min cold, seconds when '
                        "inductor's cache is warm)")
    parser.add_argument('--full-run', action='store_true')
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS),
                        help='configs of the full runs')
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    init_default_scope('hp3d')

    if args.make_data and not osp.exists(osp.join(args.data_root, TRAIN_ANN)):
        from hp3d.datasets.synthetic import generate_dataset
        generate_dataset(args.data_root, num_takes=200, frames_per_take=80,
                         seed=0, workers=os.cpu_count(), write_images=False)

    paths = loaders(args.data_root)
    num_hands = len(next(iter(paths.values())).dataset)
    batch = next(iter(paths['LiftingTensorDataset']))
    inputs, samples = batch['inputs'], batch['data_samples']
    steps_per_epoch = -(-num_hands // BATCH)

    rows: List[Dict] = []
    impls = ['reference', 'fused'] + (
        ['compiled', 'cpu_kernel_adam', 'cpu_kernel'] if args.compile else [])
    steps = {impl: make_step(impl) for impl in impls}
    for step in steps.values():  # warm-up, compilation included
        for _ in range(5):
            step(inputs, samples)
    times = interleaved_ms(
        {impl: partial(step, inputs, samples) for impl, step in steps.items()},
        args.repeats)
    ref_ms = statistics.median(times['reference'])
    for impl in impls:
        ms = statistics.median(times[impl])
        rows.append(dict(part='model step (batch 64)', variant=impl, ms=ms,
                         best_ms=min(times[impl]), ratio=ref_ms / ms))
    # The loop's overhead: an epoch fed by each data path against the same
    # number of steps on one fixed batch, taking turns, best of 3.
    fastest = min(impls, key=lambda impl: statistics.median(times[impl]))
    step = steps[fastest]
    epochs = {'model only (fixed batch)': lambda: [
        step(inputs, samples) for _ in range(steps_per_epoch)]}
    epochs.update({name: epoch_fn(loader, step)
                   for name, loader in paths.items()})
    epoch_s = {name: min(ms) / 1e3 for name, ms in
               interleaved_ms(epochs, repeats=3, calls=1).items()}
    model_s = epoch_s.pop('model only (fixed batch)')
    rows.append(dict(part=f'train epoch ({fastest} step)',
                     variant='model only (fixed batch)', s=model_s,
                     samples_per_s=num_hands / model_s))
    for name, loader in paths.items():
        rows.append(dict(part='data only, 1 epoch', variant=name,
                         s=best_time(epoch_fn(loader), 3)))
        rows.append(dict(part=f'train epoch ({fastest} step)', variant=name,
                         s=epoch_s[name],
                         samples_per_s=num_hands / epoch_s[name],
                         efficiency=model_s / epoch_s[name]))
    if args.full_run:
        for config in args.configs:
            wall, train_s = full_run(config, args.data_root, args.epochs)
            rows.append(dict(part=f'mmengine run, {args.epochs} epochs + val',
                             variant=osp.basename(config), s=wall,
                             samples_per_s=num_hands * args.epochs / wall))
            rows.append(dict(part='  of which training iterations',
                             variant=osp.basename(config), s=train_s,
                             samples_per_s=num_hands * args.epochs / train_s))

    print(f'{num_hands} train hands, batch {BATCH}, {args.threads} threads, '
          f'torch {torch.__version__}, {platform.processor() or "cpu"}; '
          f'model steps: median (best) of {args.repeats} interleaved repeats')
    print(f'{"part":<32}{"variant":<42}{"time":>18}  note')
    for row in rows:
        if 'ms' in row:
            time_txt = f'{row["ms"]:.2f} ({row["best_ms"]:.2f}) ms'
            note = f'x{row["ratio"]:.2f} vs reference'
        else:
            time_txt = f'{row["s"]:.2f} s'
            note = f'{row["samples_per_s"]:.0f} hands/s' \
                if 'samples_per_s' in row else ''
            if 'efficiency' in row:
                note += f', {100 * row["efficiency"]:.0f} % of model-only'
        variant = row['variant'].replace('.py', '')[-41:]
        print(f'{row["part"]:<32}{variant:<42}{time_txt:>18}  {note}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(num_hands=num_hands, threads=args.threads,
                           torch=torch.__version__, step_ms=times, rows=rows),
                      f, indent=1)


if __name__ == '__main__':
    main()
