"""Draw validation and test samples during a run."""
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
from mmengine.dist import is_main_process
from mmengine.fileio import join_path, put
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from hp3d.registry import HOOKS

from .batch_utils import sample_image, slice_sample

_BatchOutputs = Optional[Sequence[Dict]]
# checkpoint['meta'] key of the validations counted so far
VAL_COUNT_KEY = 'vis_val_count'


@HOOKS.register_module()
class Hand3DVisualizationHook(Hook):
    """Draws a few validation samples each validation, and test samples.

    - Validation: the first ``max_samples`` samples of every
      ``val_interval``-th validation go to the visualizer's backends (e.g.
      TensorBoard), tagged by sample so that each shows its progress over the
      run. ``max_samples=0`` turns it off. A figure costs about a second of
      CPU: short runs with many validations raise ``val_interval``. The
      count of validations is saved in checkpoints, so a resumed run draws
      in the same validations as an uninterrupted one.
    - Test (``enable=True``, set by ``tools/test.py --show-dir D``): every
      ``interval``-th sample is written to
      ``{out_dir}/{take_uid}_{frame:06d}_{hand}.png``, or sent to the
      backends when ``out_dir`` is None. Nothing is drawn while disabled.

    Under DDP the backends take figures from the main process only, so the
    other ranks draw nothing for them: the validation figures are rank 0's
    first samples (dataset indices 0, W, 2W, ... for W processes), and test
    figures without ``out_dir`` are rank 0's. With ``out_dir`` every rank
    writes every ``interval``-th of its own samples.

    The visualizer is the runner's (``Hand3DVisualizer``). Each sample's
    figure is built from ``data_batch`` (the collated batch: ``inputs`` crops
    (B, 3, H, W) uint8 BGR, or lifting keypoints (B, K, 2), which have no
    image) and ``outputs`` (the model's per-sample prediction dicts).

    Args:
        enable (bool): draw test samples. Defaults to False.
        interval (int): draw every ``interval``-th test sample.
        max_samples (int): samples drawn per drawn validation.
        val_interval (int): draw in every ``val_interval``-th validation
            (the first included). Defaults to 1.
        out_dir (str, optional): directory of the test figures.
        backend_args (dict, optional): mmengine file backend arguments for
            writing to ``out_dir``.
    """

    def __init__(self,
                 enable: bool = False,
                 interval: int = 50,
                 max_samples: int = 4,
                 val_interval: int = 1,
                 out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        if val_interval < 1:
            raise ValueError(f'val_interval must be >= 1, got {val_interval}')
        if max_samples < 0:
            raise ValueError(f'max_samples must be >= 0, got {max_samples}')
        self.enable = enable
        self.interval = interval
        self.max_samples = max_samples
        self.val_interval = val_interval
        self.out_dir = out_dir
        self.backend_args = backend_args
        self._val_count = 0
        self._val_drawn = 0
        self._test_seen = 0

    @property
    def _visualizer(self) -> Visualizer:
        return Visualizer.get_current_instance()

    def before_val_epoch(self, runner: Runner) -> None:
        # a validation left out of drawing starts "full"
        skip = self._val_count % self.val_interval != 0
        self._val_count += 1
        self._val_drawn = self.max_samples if skip else 0

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[VAL_COUNT_KEY] = self._val_count

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        # as mmengine's EMAHook: weights loaded by load_from start afresh
        if getattr(runner, '_resume', False):
            self._val_count = checkpoint.get('meta', {}).get(
                VAL_COUNT_KEY, self._val_count)

    def before_test_epoch(self, runner: Runner) -> None:
        self._test_seen = 0

    def after_val_iter(self, runner: Runner, batch_idx: int,
                       data_batch: Dict, outputs: _BatchOutputs = None) -> None:
        """Send the validation's first ``max_samples`` samples to backends."""
        if (self._val_drawn >= self.max_samples or not outputs
                or not is_main_process()):
            return
        for i, prediction in enumerate(outputs):
            if self._val_drawn >= self.max_samples:
                break
            self._val_drawn += 1
            image, sample = self._sample(data_batch, i)
            self._visualizer.add_datasample(
                f'val_{self._val_drawn - 1}_{_sample_name(sample)}', image,
                sample, prediction, step=runner.iter)

    def after_test_iter(self, runner: Runner, batch_idx: int,
                        data_batch: Dict, outputs: _BatchOutputs = None) -> None:
        """Draw every ``interval``-th test sample."""
        if not self.enable or not outputs:
            return
        if self.out_dir is None and not is_main_process():
            return  # the backends would drop the figures
        for i, prediction in enumerate(outputs):
            index = self._test_seen
            self._test_seen += 1
            if index % self.interval:
                continue
            image, sample = self._sample(data_batch, i)
            name = _sample_name(sample)
            if self.out_dir is None:
                self._visualizer.add_datasample(f'test_{name}', image, sample,
                                                prediction, step=index)
                continue
            figure = self._visualizer.draw_sample(image, sample, prediction)
            self._write_png(figure, f'{name}.png')

    @staticmethod
    def _sample(data_batch: Dict, index: int):
        return (sample_image(data_batch['inputs'], index),
                slice_sample(data_batch['data_samples'], index))

    def _write_png(self, figure_rgb: np.ndarray, filename: str) -> None:
        """Write a figure to ``out_dir`` through the file backend."""
        ok, png = cv2.imencode('.png', figure_rgb[..., ::-1])
        if not ok:
            raise RuntimeError(f'Could not encode the figure {filename}')
        put(png.tobytes(),
            join_path(self.out_dir, filename, backend_args=self.backend_args),
            backend_args=self.backend_args)


def _sample_name(sample: Dict) -> str:
    """``{take_uid}_{frame:06d}_{hand}`` of a sliced sample."""
    return '{}_{:06d}_{}'.format(
        str(sample['take_uid']), int(sample['frame_number']),
        str(sample['hand']))


__all__ = ['Hand3DVisualizationHook']
