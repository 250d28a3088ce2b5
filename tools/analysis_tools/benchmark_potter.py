"""Speed and peak memory of the POTTER hand model, reference vs fast.

Builds ``PoolAttnFormerHR`` + ``Pose3DVolumeHead`` once per implementation
(``impl='reference'``, the op-by-op port of the official code, and
``impl='fast'``) with the same weights, then measures for every batch size and
dtype:

- ``infer``: ``head(backbone(x))`` in eval and inference mode;
- ``train``: ``head.loss`` forward, backward and an Adam step in train mode
  (dropout/stochastic depth as configured).

The implementations alternate within every repeat (reference, fast, reference,
...) so both see the same machine load; each timing is the best over the
repeats (the median is reported too), in wall-clock and in process CPU time
(what the work costs the cores it ran on, less sensitive to other processes on
a shared machine).
Peak memory is the step's resident-set high-water mark over the resident size
before it (CPU: ``/proc/self/clear_refs`` + ``VmHWM``, after ``malloc_trim``)
or ``torch.cuda.max_memory_allocated`` (CUDA). bf16 runs under
``torch.autocast``; ``--compile`` adds ``torch.compile``d variants and
``--channels-last`` variants whose 4D weights and input are channels-last
(NHWC convolutions, the GPU layout; ``+cl`` in the table).

Example (docs/benchmarks_potter.md has the recorded runs)::

    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_potter.py \\
        --threads 1 --batch-sizes 1 16 64 --train-batch-sizes 1 16 \\
        --repeats 3 --out work_dirs/benchmark_potter.json
"""
import argparse
import copy
import ctypes
import json
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from hp3d.models.backbones.potter import PoolAttnFormerHR
from hp3d.models.heads.pose3d_volume_head import Pose3DVolumeHead
from hp3d.registry import KEYPOINT_CODECS, MODELS

IMPLS = ('reference', 'fast')
DTYPES = {'float32': None, 'bfloat16': torch.bfloat16}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-sizes', type=int, nargs='+',
                        default=[1, 16, 64])
    parser.add_argument('--train-batch-sizes', type=int, nargs='+',
                        default=None,
                        help='batch sizes of the train step (default: '
                        '--batch-sizes); the reference needs ~0.45 GB of '
                        'activations per image to train')
    parser.add_argument('--modes', nargs='+', default=['infer', 'train'],
                        choices=['infer', 'train'])
    parser.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'],
                        choices=list(DTYPES))
    parser.add_argument('--compile', action='store_true',
                        help='also time torch.compile()d models')
    parser.add_argument('--channels-last', action='store_true',
                        help='also time channels-last models and inputs')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed runs per implementation (interleaved)')
    parser.add_argument('--min-time', type=float, default=1.0,
                        help='each timed run repeats steps for at least this '
                        'many seconds')
    parser.add_argument('--input-size', type=int, default=224)
    parser.add_argument('--drop-rate', type=float, default=0.1,
                        help='MLP dropout (official config: 0.1)')
    parser.add_argument('--drop-path-rate', type=float, default=0.1,
                        help='stochastic depth (official config: 0.1)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='JSON results file')
    return parser.parse_args()


class HandModel(nn.Module):
    """Backbone + head, the parts of the estimator that do the work."""

    def __init__(self, impl: str, args: argparse.Namespace) -> None:
        super().__init__()
        size = args.input_size // 4
        self.backbone = PoolAttnFormerHR(drop_rate=args.drop_rate,
                                         drop_path_rate=args.drop_path_rate,
                                         impl=impl)
        self.head = Pose3DVolumeHead(
            codec=KEYPOINT_CODECS.build(dict(type='Pose3DCodec')),
            loss=MODELS.build(dict(type='MaskedMSELoss')),
            heatmap_size=(size, size), impl=impl)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def loss(self, x: torch.Tensor, data_samples: Dict) -> torch.Tensor:
        losses = self.head.loss(self.backbone(x), data_samples)
        return sum(v for k, v in losses.items() if k.startswith('loss'))


class PeakMemory:
    """Peak resident memory of a step over the memory before it, in MiB."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.libc = None
        if device.type == 'cpu' and sys.platform.startswith('linux'):
            self.libc = ctypes.CDLL('libc.so.6')

    @staticmethod
    def _status_kib(field: str) -> int:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
        raise RuntimeError(f'{field} not in /proc/self/status')

    def start(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        elif self.libc is not None:
            # return freed heap pages first, else they hide the step's peak
            self.libc.malloc_trim(0)
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # reset VmHWM to the current RSS
            self.base = self._status_kib('VmRSS') * 1024

    def stop(self) -> Optional[float]:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        elif self.libc is not None:
            peak = self._status_kib('VmHWM') * 1024
        else:
            return None
        return (peak - self.base) / 2**20


def make_step(model: nn.Module, mode: str, x: torch.Tensor,
              data_samples: Dict, dtype: Optional[torch.dtype]
              ) -> Callable[[], None]:
    device_type = x.device.type
    autocast = torch.autocast(device_type, dtype=dtype, enabled=dtype is not None)
    if mode == 'infer':
        model.eval()

        def step() -> None:
            with torch.inference_mode(), autocast:
                model(x)
        return step

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = model.loss(x, data_samples)
        loss.backward()
        optimizer.step()
    return step


def time_step(step: Callable[[], None], device: torch.device,
              min_time: float) -> Dict[str, float]:
    """Seconds per step (wall and process CPU), averaged over >= min_time."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' \
        else (lambda: None)
    n, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        sync()
        n += 1
        wall = time.perf_counter() - wall0
        if wall >= min_time:
            break
    return dict(wall_s=wall / n, cpu_s=(time.process_time() - cpu0) / n,
                steps=n)


def bench_config(models: Dict[str, nn.Module], mode: str, batch: int,
                 dtype_name: str, args: argparse.Namespace,
                 device: torch.device) -> Dict[str, Dict]:
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(batch, 3, args.input_size, args.input_size,
                    generator=gen).to(device)
    data_samples = dict(
        target=torch.randn(batch, 21, 3, generator=gen).to(device),
        target_weight=torch.ones(batch, 21, device=device))
    x_cl = x.contiguous(memory_format=torch.channels_last)
    steps = {
        name: make_step(model, mode, x_cl if '+cl' in name else x,
                        data_samples, DTYPES[dtype_name])
        for name, model in models.items()
    }
    memory = PeakMemory(device)
    results = {name: dict(wall_s=[], cpu_s=[]) for name in steps}
    for name, step in steps.items():
        memory.start()
        step()  # warm-up (and compilation), also the peak-memory sample
        results[name]['peak_mib'] = memory.stop()
    for _ in range(args.repeats):
        for name, step in steps.items():
            t = time_step(step, device, args.min_time)
            results[name]['wall_s'].append(t['wall_s'])
            results[name]['cpu_s'].append(t['cpu_s'])
    for r in results.values():
        r['img_per_s'] = batch / min(r['wall_s'])
        r['img_per_s_median'] = batch / statistics.median(r['wall_s'])
        r['img_per_cpu_s'] = batch / min(r['cpu_s'])
    return results


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its 4D weights channels-last. (``Module.to`` with a
    memory format refuses the head's 5D Conv3d weights.)"""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(
                memory_format=torch.channels_last)
    return model


def build_models(args: argparse.Namespace, device: torch.device
                 ) -> Dict[str, nn.Module]:
    torch.manual_seed(args.seed)
    models = {impl: HandModel(impl, args).to(device) for impl in IMPLS}
    models['fast'].load_state_dict(models['reference'].state_dict())
    if args.channels_last:
        for impl in IMPLS:
            models[f'{impl}+cl'] = to_channels_last(
                copy.deepcopy(models[impl]))
    if args.compile:
        models.update({f'{name}+compile': torch.compile(model)
                       for name, model in list(models.items())})
    return models


def print_table(rows: List[Dict]) -> None:
    header = (f'{"mode":<6}{"batch":>6} {"dtype":<9}{"impl":<16}'
              f'{"img/s":>7}{"img/cpu-s":>10}{"ms/img":>8}{"peak MiB":>9}'
              f'{"speed-up":>9}{"(median)":>9}{"(cpu)":>7}{"mem ratio":>10}')
    print(header)
    print('-' * len(header))
    for row in rows:
        peak = '-' if row['peak_mib'] is None else f"{row['peak_mib']:.0f}"
        mem = '-' if row['mem_ratio'] is None else f"{row['mem_ratio']:.2f}"
        print(f"{row['mode']:<6}{row['batch']:>6} {row['dtype']:<9}"
              f"{row['impl']:<16}{row['img_per_s']:>7.2f}"
              f"{row['img_per_cpu_s']:>10.2f}{1000 / row['img_per_s']:>8.1f}"
              f"{peak:>9}{row['speedup']:>9.2f}{row['speedup_median']:>9.2f}"
              f"{row['speedup_cpu']:>7.2f}{mem:>10}")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    models = build_models(args, device)
    rows = []
    for mode in args.modes:
        batches = args.batch_sizes
        if mode == 'train' and args.train_batch_sizes:
            batches = args.train_batch_sizes
        for batch in batches:
            for dtype_name in args.dtypes:
                res = bench_config(models, mode, batch, dtype_name, args,
                                   device)
                for name, r in res.items():
                    base = res[name.replace('fast', 'reference')]
                    mem_ratio = (r['peak_mib'] / base['peak_mib']
                                 if r['peak_mib'] and base['peak_mib'] else
                                 None)
                    rows.append(dict(
                        mode=mode, batch=batch, dtype=dtype_name, impl=name,
                        speedup=r['img_per_s'] / base['img_per_s'],
                        speedup_median=(r['img_per_s_median'] /
                                        base['img_per_s_median']),
                        speedup_cpu=r['img_per_cpu_s'] / base['img_per_cpu_s'],
                        mem_ratio=mem_ratio, **r))
                print_table(rows[-len(res):])
                print(flush=True)
    print('All configurations. speed-up: best-of-repeats throughput over '
          'impl=reference\'s in the same configuration; (median): of the '
          'median repeats; (cpu): in process CPU time; mem ratio: of the peak '
          'memory.')
    print_table(rows)
    if args.out:
        env = dict(torch=torch.__version__, device=str(device),
                   threads=torch.get_num_threads(),
                   cpu=platform.processor() or platform.machine(),
                   command=' '.join(sys.argv))
        with open(args.out, 'w') as f:
            json.dump(dict(env=env, args=vars(args), results=rows), f,
                      indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
