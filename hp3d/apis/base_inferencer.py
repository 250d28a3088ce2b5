"""What both inferencers share: model, batched forward, drawing, results.

An inferencer runs in the stages of mmengine's ``BaseInferencer``: build
the samples of docs/design.md §1 from the user's inputs, turn them into
batches with the config's own data path (pipeline or codec), run
``model.test_step`` (data preprocessor + ``mode='predict'``), draw, and
return one result dict per hand.

Note:
    N: hands in a call, K: joints (21).
"""
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config

from hp3d.datasets.metainfo import HANDS
from hp3d.registry import VISUALIZERS
from hp3d.visualization.batch_utils import sample_image, slice_sample

from .camera_space import to_camera_space_m
from .hand_samples import HandSamples
from .inference import init_model

__all__ = ['BaseHand3DInferencer', 'per_hand', 'check_hands']


def per_hand(value, num_hands: int, shape: Tuple[int, ...], name: str,
             default=None) -> Optional[np.ndarray]:
    """One value for all hands, or one per hand, as an (N, *shape) array.

    Args:
        value: None, an array of ``shape`` (shared) or (N, *shape).
        num_hands (int): N.
        shape (tuple[int, ...]): The per-hand shape, e.g. (3, 3).
        name (str): Argument name for errors.
        default: Used when ``value`` is None; None keeps None.

    Returns:
        np.ndarray | None: (N, *shape) float64.
    """
    value = default if value is None else value
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if array.shape == tuple(shape):
        return np.broadcast_to(array, (num_hands, ) + tuple(shape))
    if array.shape != (num_hands, ) + tuple(shape):
        raise ValueError(f'{name} must have shape {tuple(shape)} (all hands) '
                         f'or {(num_hands, ) + tuple(shape)} (one per hand), '
                         f'got {array.shape}')
    return array


def check_hands(hands: Union[str, Sequence[str]], num_hands: int,
                where: str) -> List[str]:
    """Handedness of ``num_hands`` hands: one string for all, or a list.

    Args:
        hands (str | Sequence[str]): ``'left'`` / ``'right'`` values.
        num_hands (int): How many hands need one.
        where (str): What the hands belong to, for errors.

    Returns:
        list[str]: One handedness per hand.
    """
    hands = [hands] * num_hands if isinstance(hands, str) else list(hands)
    if len(hands) != num_hands:
        raise ValueError(f'{where}: {num_hands} hands but {len(hands)} '
                         'handedness values')
    unknown = sorted(set(hands) - set(HANDS))
    if unknown:
        raise ValueError(f'{where}: handedness must be one of {HANDS}, got '
                         f'{unknown}')
    return hands


class BaseHand3DInferencer(ABC):
    """Config + checkpoint -> per-hand 3D predictions.

    Subclasses build samples (``build_samples``) and batches
    (``iter_batches``); this class runs the model and draws.

    Args:
        cfg (Config): The model's config.
        weights (str, optional): Checkpoint path or URL; None keeps random
            weights.
        device (str): Where the model runs. Defaults to ``'cpu'``.
    """

    def __init__(self, cfg: Config, weights: Optional[str] = None,
                 device: str = 'cpu') -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.model = init_model(cfg, weights, self.device)
        self._visualizer = None

    @abstractmethod
    def iter_batches(self, samples, batch_size: int) -> Iterator[dict]:
        """Collated batches ``dict(inputs, data_samples)`` of ``samples``."""

    @torch.no_grad()
    def forward(self, batch: dict) -> List[dict]:
        """``model.test_step``: the prediction dicts of docs/design.md §4."""
        return self.model.test_step(batch)

    def run(self, samples, batch_size: int = 32,
            out_dir: Optional[Union[str, Path]] = None,
            return_vis: bool = False
            ) -> Iterator[Tuple[List[dict], List[np.ndarray]]]:
        """Predict ``samples`` batch by batch (for progress bars).

        Args:
            samples (HandSamples | BaseDataset): Hands with the keys of
                docs/design.md §1 (``get_data_info``; ``get_arrays`` for
                lifting), e.g. an ``EgoExo4DHandDataset``.
            batch_size (int): Hands per model call.
            out_dir (str | Path, optional): Write one figure per hand here
                (named as in :meth:`visualize`, unique within the call).
            return_vis (bool): Also yield the figures.

        Yields:
            tuple[list[dict], list[np.ndarray]]: A batch's prediction dicts
            and its (H, W, 3) uint8 RGB figures (empty unless drawn).
        """
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        # Figure names of earlier batches: a later hand must not overwrite
        # them.
        taken_names: Set[str] = set()
        for batch in self.iter_batches(samples, batch_size):
            preds = self.forward(batch)
            figures = (self.visualize(batch, preds, out_dir, taken_names)
                       if out_dir is not None or return_vis else [])
            yield preds, figures

    def num_batches(self, samples, batch_size: int) -> int:
        """How many batches :meth:`run` yields for ``samples``."""
        return math.ceil(len(samples) / batch_size)

    @property
    def visualizer(self):
        """The config's ``Hand3DVisualizer``, built on first use without vis
        backends (figures go to files or are returned)."""
        if self._visualizer is None:
            vis_cfg = dict(self.cfg.get('visualizer',
                                        dict(type='Hand3DVisualizer')))
            vis_cfg.update(name=f'hp3d_inferencer_{id(self)}',
                           vis_backends=None, save_dir=None)
            self._visualizer = VISUALIZERS.build(vis_cfg)
        return self._visualizer

    def visualize(self, batch: dict, preds: List[dict],
                  out_dir: Optional[Union[str, Path]] = None,
                  taken_names: Optional[Set[str]] = None
                  ) -> List[np.ndarray]:
        """Draw each hand of a batch with its prediction.

        Args:
            batch (dict): The collated batch the predictions came from.
            preds (list[dict]): Its prediction dicts.
            out_dir (str | Path, optional): Save each figure as
                ``{take_uid}_{frame:06d}_{hand}.png`` here, or as
                ``{take_uid}_{frame:06d}_{hand}_{sample_idx}.png`` when that
                name is taken (two same-handed boxes in one image, two
                images with one file stem).
            taken_names (set[str], optional): Names already used, e.g. by
                earlier batches of the call; updated in place.

        Returns:
            list[np.ndarray]: (H, W, 3) uint8 RGB figures.
        """
        taken_names = set() if taken_names is None else taken_names
        figures = []
        for i, pred in enumerate(preds):
            name = (f'{pred["take_uid"]}_{int(pred["frame_number"]):06d}_'
                    f'{pred["hand"]}')
            # Plain names end in the hand, suffixed ones in a sample index
            # (unique within a call): the two kinds cannot collide.
            if name in taken_names:
                name = f'{name}_{int(pred["sample_idx"])}'
            taken_names.add(name)
            out_file = None if out_dir is None else str(
                Path(out_dir) / f'{name}.png')
            figures.append(self.visualizer.add_datasample(
                name, sample_image(batch['inputs'], i),
                slice_sample(batch['data_samples'], i), pred,
                out_file=out_file))
        return figures

    def predict_samples(self, samples: HandSamples, batch_size: int,
                        out_dir: Optional[Union[str, Path]],
                        return_vis: bool
                        ) -> Tuple[List[dict], List[np.ndarray]]:
        """All prediction dicts of ``samples`` in order, and the figures."""
        preds: List[dict] = []
        figures: List[np.ndarray] = []
        for batch_preds, batch_figures in self.run(samples, batch_size,
                                                   out_dir, return_vis):
            preds.extend(batch_preds)
            figures.extend(batch_figures)
        return preds, figures

    @staticmethod
    def hand_result(pred: dict, cam_K: np.ndarray,
                    wrist_px: Optional[np.ndarray],
                    wrist_depth_m: Optional[float]) -> Dict[str, object]:
        """The user-facing result of one hand.

        Args:
            pred (dict): Its prediction dict (``pred_mm`` (K, 3)).
            cam_K (np.ndarray): (3, 3) intrinsics.
            wrist_px (np.ndarray, optional): (2,) wrist pixel.
            wrist_depth_m (float, optional): Wrist camera-frame z, metres.

        Returns:
            dict: ``hand``, ``keypoints_3d_rel_mm`` (K, 3) float32 and, with
            a wrist pixel and depth, ``keypoints_3d_cam_m`` (K, 3) float32.
        """
        result = dict(hand=pred['hand'],
                      keypoints_3d_rel_mm=np.asarray(pred['pred_mm'],
                                                     dtype=np.float32))
        if wrist_depth_m is not None and not np.isnan(wrist_depth_m):
            result['keypoints_3d_cam_m'] = to_camera_space_m(
                result['keypoints_3d_rel_mm'], wrist_px, wrist_depth_m,
                cam_K)
        return result
