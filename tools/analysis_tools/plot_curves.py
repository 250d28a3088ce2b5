"""Plot training loss and validation metric curves of mmengine runs to a PNG.

Reads the JSON-lines scalar logs that mmengine's ``LoggerHook`` and
``LocalVisBackend`` write (``{work_dir}/{timestamp}/vis_data/scalars.json``,
or its twin ``{timestamp}.json``); for a work dir, its latest run and the
runs it resumed are merged in start order, so a resumed run's curves are
whole. Train records carry an ``iter`` key and are plotted against the
global iteration (``step``); validation records do not and are plotted
against their ``step`` (the epoch with mmengine's default
``log_metric_by_epoch=True``, else the iteration). Several runs are drawn
into the same panels, one colour per run. The best value of each validation
metric is starred: the highest for accuracies (PCK, AUC, AP, AR), the lowest
for everything else (errors such as MPJPE).

Examples::

    python tools/analysis_tools/plot_curves.py work_dirs/lifting_x
    python tools/analysis_tools/plot_curves.py work_dirs/a work_dirs/b \\
        --keys loss egoexo4d/MPJPE --out curves.png
"""
import argparse
import glob
import json
import math
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Scalars every record has that are not curves worth plotting by default.
BOOKKEEPING_KEYS = ('step', 'epoch', 'iter', 'time', 'data_time', 'memory',
                    'eta')
PANELS_PER_ROW = 3
# Metric names (the last component of a key such as ``egoexo4d/PCK@20mm``)
# that are accuracies, their best value the highest: PCK@t, AUC, AP, AP50,
# AP@0.5, AR... (not names that merely start with those letters).
GREATER_IS_BETTER = re.compile(r'^(PCK|AUC|AP|AR)([@\d._-]|$)')

Series = Dict[str, Tuple[np.ndarray, np.ndarray]]
# What mmengine's Runner.resume logs.
RESUMED_MARK = 'resumed epoch:'


def _resumed(scalar_log: str) -> bool:
    """Whether the run of ``{run}/vis_data/scalars.json`` resumed another
    (mmengine's text log ``{run}/{run}.log`` says so)."""
    run_dir = osp.dirname(osp.dirname(scalar_log))
    text_log = osp.join(run_dir, f'{osp.basename(run_dir)}.log')
    if not osp.isfile(text_log):
        return False
    with open(text_log, errors='replace') as f:
        return any(RESUMED_MARK in line for line in f)


def find_scalar_logs(path: str) -> List[str]:
    """The scalar logs of a work dir's latest run and the runs it resumed
    (oldest first), or ``[path]``.

    A resumed run logs into a new run dir, so its history is spread over
    the chain of runs that ends with it; an earlier run that was not
    resumed from (a fresh start in the same work dir) is left out.

    Args:
        path (str): a JSON-lines log file, a run dir (``{timestamp}/``) or a
            work dir holding run dirs.

    Returns:
        list[str]: the log files.
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path} is neither a log file nor a dir')
    # Run dirs are named by their start time, so sorted is oldest first.
    candidates = sorted(
        glob.glob(osp.join(path, 'vis_data', 'scalars.json')) +
        glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not candidates:
        raise FileNotFoundError(
            f'No vis_data/scalars.json under {path}: pass the log file '
            '(e.g. {timestamp}/vis_data/{timestamp}.json) instead')
    chain = [candidates[-1]]
    for earlier in reversed(candidates[:-1]):
        if not _resumed(chain[0]):
            break
        chain.insert(0, earlier)
    return chain


def load_scalars(log_files: Union[str, Sequence[str]]
                 ) -> Tuple[Series, Series]:
    """Read JSON-lines scalar logs into train and validation series.

    Args:
        log_files (str | Sequence[str]): files of one object per line, in
            the order the runs wrote them.

    Returns:
        tuple[dict, dict]: ``train`` and ``val`` series, each mapping a key
        to ``(steps, values)`` arrays sorted by step. A step logged twice (a
        resumed run repeats what followed its checkpoint) keeps the later
        value.
    """
    if isinstance(log_files, str):
        log_files = [log_files]
    records: Dict[str, Dict[str, Dict[float, float]]] = dict(train={},
                                                             val={})
    for log_file in log_files:
        with open(log_file) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(
                        f'{log_file}:{line_no} is not JSON: {e}')
                if 'step' not in record:
                    raise ValueError(f'{log_file}:{line_no} has no "step": '
                                     'is this an mmengine scalar log?')
                split = records['train' if 'iter' in record else 'val']
                for key, value in record.items():
                    if isinstance(value, (int, float)) and key != 'step':
                        split.setdefault(key, {})[record['step']] = float(
                            value)

    def to_series(split):
        series = {}
        for key, by_step in split.items():
            steps = np.array(sorted(by_step), dtype=np.float64)
            series[key] = (steps, np.array([by_step[s] for s in steps]))
        return series

    return to_series(records['train']), to_series(records['val'])


def default_keys(train: Series, val: Series) -> List[str]:
    """Train losses (``loss*``) and every validation metric."""
    losses = sorted(k for k in train if k.startswith('loss'))
    # The total loss first: it is what the optimiser minimises.
    losses.sort(key=lambda k: k != 'loss')
    metrics = sorted(k for k in val if k not in BOOKKEEPING_KEYS)
    return losses + metrics


def is_greater_better(key: str, extra: Sequence[str] = ()) -> bool:
    """Whether the best value of metric ``key`` is its highest.

    Args:
        key (str): a validation key, e.g. ``egoexo4d/PCK@20mm``.
        extra (Sequence[str]): further keys whose best is the highest.

    Returns:
        bool: True for ``extra`` keys and for keys whose last ``/``
        component names an accuracy (``GREATER_IS_BETTER``).
    """
    return (key in extra
            or GREATER_IS_BETTER.match(key.rsplit('/', 1)[-1]) is not None)


def val_step_unit(train: Series, val: Series) -> str:
    """What the ``step`` of a run's validation records counts.

    mmengine does not log it: with ``log_metric_by_epoch=True`` (its
    default) the step is the epoch, else the global iteration. An
    epoch-based run logs ``epoch`` in its train records, so validation steps
    beyond the last train epoch must be iterations; a run without train
    epochs (iteration-based) validates by iteration.

    Args:
        train (dict): the run's train series.
        val (dict): the run's validation series.

    Returns:
        str: ``'epoch'``, ``'iteration'``, or ``'step'`` when the log holds
        no train records to tell.
    """
    if not train:
        return 'step'
    if 'epoch' not in train:
        return 'iteration'
    last_epoch = train['epoch'][1].max()
    last_val_step = max((steps.max() for steps, _ in val.values()
                         if len(steps)), default=0)
    return 'epoch' if last_val_step <= last_epoch else 'iteration'


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` points (1: unchanged)."""
    if window <= 1 or len(values) < window:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    head = cumsum[1:window] / np.arange(1, window)
    return np.concatenate([head, (cumsum[window:] - cumsum[:-window]) /
                           window])


def plot_curves(runs: Sequence[Tuple[str, Series, Series]],
                keys: Sequence[str],
                out_file: str,
                smooth_window: int = 1,
                log_loss: bool = False,
                greater_is_better: Sequence[str] = (),
                title: Optional[str] = None) -> List[str]:
    """Draw the curves of ``keys`` for every run into one PNG.

    Train losses share one panel (vs iteration); each validation metric gets
    its own panel (vs epoch or iteration, see :func:`val_step_unit`) with its
    best value starred: the highest for accuracies (see
    :func:`is_greater_better`) and ``greater_is_better`` keys, else the lowest
    (errors such as MPJPE).

    Args:
        runs (Sequence[tuple]): ``(name, train, val)`` per run.
        keys (Sequence[str]): keys to draw; a key found in neither the train
            nor the validation series of any run is an error.
        out_file (str): the PNG to write.
        smooth_window (int): moving-average window of the train curves.
        log_loss (bool): log-scale the loss panel.
        greater_is_better (Sequence[str]): metrics whose best is the highest,
            besides the accuracies recognised by name.
        title (str, optional): figure title.

    Returns:
        list[str]: the panel titles, in drawing order.
    """
    train_keys = [k for k in keys if any(k in train for _, train, _ in runs)]
    val_keys = [k for k in keys
                if k not in train_keys and any(k in val for _, _, val in runs)]
    missing = [k for k in keys if k not in train_keys + val_keys]
    if missing:
        known = sorted({k for _, t, v in runs for k in (*t, *v)})
        raise KeyError(f'No series named {missing} in the logs; known keys: '
                       f'{known}')
    panels = (['train'] if train_keys else []) + val_keys
    if not panels:
        raise ValueError('Nothing to plot: the logs hold no train or '
                         'validation scalars')
    ncols = min(len(panels), PANELS_PER_ROW)
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(5.0 * ncols, 3.6 * nrows + 0.4), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    run_colors = [f'C{i}' for i in range(len(runs))]
    styles = ['-', '--', ':', '-.']
    titles = []
    for ax, panel in zip(axes, panels):
        if panel == 'train':
            for r, (name, train, _) in enumerate(runs):
                for k, key in enumerate(train_keys):
                    if key not in train:
                        continue
                    steps, values = train[key]
                    # One run: a colour per loss; several: a colour per run,
                    # a line style per loss.
                    if len(runs) == 1:
                        color, style, label = f'C{k}', '-', key
                    else:
                        color, style = run_colors[r], styles[k % len(styles)]
                        label = f'{name}: {key}'
                    ax.plot(steps, smooth(values, smooth_window),
                            color=color, linestyle=style, linewidth=1.2,
                            label=label)
            ax.set_xlabel('iteration')
            ax.set_ylabel('loss')
            if log_loss:
                ax.set_yscale('log')
            titles.append('train loss' + (
                f' (moving average of {smooth_window})'
                if smooth_window > 1 else ''))
        else:
            units = []
            for (name, train, val), color in zip(runs, run_colors):
                if panel not in val:
                    continue
                unit = val_step_unit(train, val)
                if unit not in units:
                    units.append(unit)
                steps, values = val[panel]
                best = int(np.argmax(values)
                           if is_greater_better(panel, greater_is_better)
                           else np.argmin(values))
                ax.plot(steps, values, color=color, marker='o',
                        markersize=3, linewidth=1.2,
                        label=f'{name} (best {values[best]:.4g} at '
                        f'{steps[best]:g})')
                ax.plot(steps[best], values[best], marker='*', color=color,
                        markersize=11, markeredgecolor='k',
                        markeredgewidth=0.5)
            ax.set_xlabel(' / '.join(units))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(panel)
            titles.append(f'val {panel}')
        ax.set_title(titles[-1], fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11, fontweight='bold')
    fig.tight_layout()
    fig.savefig(out_file)
    return titles


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot loss and metric curves of mmengine runs')
    parser.add_argument(
        'logs', nargs='+',
        help='work dirs (their latest run is used), run dirs or scalar '
        'log files (vis_data/scalars.json)')
    parser.add_argument(
        '--keys', nargs='+',
        help='scalars to plot (default: train loss* and all val metrics)')
    parser.add_argument('--out', default='curves.png', help='output PNG')
    parser.add_argument('--smooth', type=int, default=1,
                        help='moving-average window of the train curves')
    parser.add_argument('--log-loss', action='store_true',
                        help='log-scale the loss axis')
    parser.add_argument(
        '--greater-is-better', nargs='+', default=[], metavar='KEY',
        help='metrics whose best value is the highest, besides accuracies '
        '(PCK@t, AUC, AP*, AR*; default: lowest)')
    parser.add_argument('--title', help='figure title')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    runs = []
    for path in args.logs:
        log_files = find_scalar_logs(path)
        name = osp.basename(osp.normpath(path))
        runs.append((name, *load_scalars(log_files)))
        print(f'{name}: {", ".join(log_files)}')
    keys = args.keys
    if not keys:
        keys = []
        for _, train, val in runs:
            keys += [k for k in default_keys(train, val) if k not in keys]
    plot_curves(runs, keys, args.out, args.smooth, args.log_loss,
                args.greater_is_better, args.title)
    print(f'Curves of {", ".join(keys)} written to {args.out}')


if __name__ == '__main__':
    main()
