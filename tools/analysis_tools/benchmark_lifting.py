"""Lifting training speed, variants side by side in one run.

Three measurements on one train split, at the seed's batch 64:

1. ``model``: the model's own train step (forward, backward, Adam) on a
   fixed batch: the straightforward implementation (spelled-out attention,
   Adam's per-tensor loop) against hp3d's (fused attention, ``foreach``
   Adam), and optionally ``torch.compile`` of the latter.
2. ``loop``: a training epoch fed by the data path: a per-sample DataLoader
   (pipeline per hand + ``default_collate``) against ``LiftingTensorDataset``
   (batches as tensor slices), each relative to the model-only step.
3. ``run`` (``--full-run``): wall time of the real mmengine run
   (``tools/train.py`` path: hooks, validation every epoch, checkpoints) for
   ``--epochs`` epochs.

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
import tempfile
import time
from typing import Callable, Dict, List

import torch
from mmengine import Config
from mmengine.dataset import DefaultSampler, default_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from hp3d.codecs import LiftingCodec
from hp3d.datasets import EgoExo4DHandDataset, LiftingTensorDataset, batched_collate
from hp3d.models.backbones import PoseTransformer
from hp3d.models.heads import JointRegressionHead

CONFIG = 'configs/lifting/lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py'
TRAIN_ANN = 'annotations/ego_pose_gt_anno_train_public.json'
BATCH = 64
# Per-sample path: what a plain mmengine pipeline does for every hand.
PER_SAMPLE_PIPELINE = [
    dict(type='GenerateTarget', encoder=dict(type='LiftingCodec')),
    dict(type='PackInputs', inputs_key='lifting_inputs'),
]


def build_model(impl: str):
    """Backbone, head and Adam of the seed model in one implementation."""
    torch.manual_seed(0)
    attn = 'reference' if impl == 'reference' else 'fused'
    backbone = PoseTransformer(attn_impl=attn)
    head = JointRegressionHead(32, LiftingCodec())
    params = list(backbone.parameters()) + list(head.parameters())
    optim = torch.optim.Adam(params, lr=2e-4, foreach=impl != 'reference')
    return backbone, head, optim


def make_step(impl: str, compile_model: bool = False) -> Callable:
    """A train step ``step(inputs, data_samples)`` of one implementation."""
    backbone, head, optim = build_model(impl)

    def loss_fn(inputs, weight, target, target_weight):
        feats = backbone(inputs, weight)
        return head.loss(feats, dict(target=target,
                                     target_weight=target_weight))['loss_kpt']

    if compile_model:
        loss_fn = torch.compile(loss_fn)

    def step(inputs, samples):
        loss = loss_fn(inputs, samples['input_weight'], samples['target'],
                       samples['target_weight'])
        optim.zero_grad(set_to_none=True)
        loss.backward()
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


def full_run(root: str, epochs: int) -> float:
    """Wall time of the real mmengine run (hooks, validation, checkpoints)."""
    from hp3d.engine import Hp3dRunner
    cfg = Config.fromfile(CONFIG)
    cfg.train_cfg.max_epochs = epochs
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.dataset.data_root = root
    cfg.default_hooks.visualization.max_samples = 0
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.default_hooks.logger.interval = 1000
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        start = time.perf_counter()
        Hp3dRunner.from_cfg(cfg).train()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synthetic_egoexo4d_21k')
    parser.add_argument('--make-data', action='store_true',
                        help='generate a ~21k-hand synthetic train split '
                        '(annotations only) at --data-root if missing')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--compile', action='store_true',
                        help='also time torch.compile of the fast step')
    parser.add_argument('--full-run', action='store_true')
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
    impls = ['reference', 'fast'] + (['fast+compile'] if args.compile else [])
    steps = {impl: make_step(impl.split('+')[0], impl.endswith('compile'))
             for impl in impls}
    model_ms = {}
    for impl, step in steps.items():
        seconds = best_time(lambda: [step(inputs, samples) for _ in range(20)],
                            args.repeats) / 20
        model_ms[impl] = seconds * 1e3
        rows.append(dict(part='model step (batch 64)', variant=impl,
                         ms=model_ms[impl],
                         ratio=model_ms['reference'] / model_ms[impl]))
    for name, loader in paths.items():
        data_s = best_time(epoch_fn(loader), args.repeats)
        loop_s = best_time(epoch_fn(loader, steps['fast']), 1)
        model_s = model_ms['fast'] * steps_per_epoch / 1e3
        rows.append(dict(part='data only, 1 epoch', variant=name, s=data_s))
        rows.append(dict(part='train epoch (fast step)', variant=name,
                         s=loop_s, samples_per_s=num_hands / loop_s,
                         efficiency=model_s / loop_s))
    if args.full_run:
        wall = full_run(args.data_root, args.epochs)
        rows.append(dict(part=f'mmengine run, {args.epochs} epochs + val',
                         variant='LiftingTensorDataset', s=wall))

    print(f'{num_hands} train hands, batch {BATCH}, {args.threads} threads, '
          f'torch {torch.__version__}, {platform.processor() or "cpu"}')
    print(f'{"part":<34}{"variant":<24}{"time":>12}  note')
    for row in rows:
        if 'ms' in row:
            time_txt, note = f'{row["ms"]:.2f} ms', f'x{row["ratio"]:.2f} vs reference'
        else:
            time_txt = f'{row["s"]:.2f} s'
            note = (f'{row["samples_per_s"]:.0f} hands/s, '
                    f'{100 * row["efficiency"]:.0f} % of model-only'
                    if 'efficiency' in row else '')
        print(f'{row["part"]:<34}{row["variant"]:<24}{time_txt:>12}  {note}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(num_hands=num_hands, threads=args.threads,
                           torch=torch.__version__, rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
