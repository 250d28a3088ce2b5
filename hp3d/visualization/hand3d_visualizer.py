"""A figure of one hand: 2D skeletons on the input, 3D skeletons in views.

Note:
    K: joints (21). Sample and prediction dicts follow docs/design.md §2
    (one sample of ``data_samples``, see :func:`slice_sample`) and §4.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from mmengine.visualization import Visualizer

from hp3d.datasets.camera import project
from hp3d.datasets.metainfo import FINGER_COLORS, FINGERS, WRIST
from hp3d.evaluation.functional.keypoint_eval import mpjpe
from hp3d.registry import VISUALIZERS
from hp3d.utils import ConfigType

from .skeleton_2d import draw_skeleton_2d
from .skeleton_3d import (
    DEFAULT_CENTER_MM,
    DEFAULT_RADIUS_MM,
    VIEWS,
    plot_skeleton_3d,
    set_axes_3d,
)

# The prediction's colour in the 3D overlays: one dark colour, so it reads
# against the ground truth's per-finger colours wherever the two overlap.
# (2D panels show GT and prediction apart, both in per-finger colours.)
PRED_COLOR = '#1f1f1f'
# Background of the 2D panel of samples without an image (lifting): dark,
# like a photo, so the palette's light-grey wrist stays visible.
_BLANK_GREY = 48
# A blank-canvas 2D panel shows the hand box enlarged by this factor.
_REGION_SCALE = 1.6


def _scalar(value):
    """A 0-d array or one-element list as a plain Python value."""
    value = np.asarray(value)
    return value.item() if value.size == 1 else value


def frame_to_crop(points_px: np.ndarray, warp_mat: np.ndarray) -> np.ndarray:
    """Map frame pixels into a crop through its (2, 3) affine ``warp_mat``.

    Args:
        points_px (np.ndarray): (K, 2) frame pixels.
        warp_mat (np.ndarray): (2, 3) affine from the frame to the crop.

    Returns:
        np.ndarray: (K, 2) crop pixels.
    """
    warp_mat = np.asarray(warp_mat, dtype=np.float64)
    return points_px @ warp_mat[:, :2].T + warp_mat[:, 2]


def prediction_to_frame(pred_mm: np.ndarray, gt_m: np.ndarray,
                        cam_K: np.ndarray) -> Optional[np.ndarray]:
    """Project a wrist-relative prediction into the frame.

    The prediction is placed at the ground-truth wrist, as the official
    evaluation does ("with offset").

    Args:
        pred_mm (np.ndarray): (K, 3) wrist-relative prediction in mm.
        gt_m (np.ndarray): (K, 3) camera-frame ground truth in metres.
        cam_K (np.ndarray): (3, 3) intrinsics.

    Returns:
        np.ndarray | None: (K, 2) frame pixels, or None when the GT wrist is
        unknown (box-only samples) or the placed hand is not in front of the
        camera.
    """
    wrist_m = np.asarray(gt_m, dtype=np.float64)[WRIST]
    if not np.isfinite(wrist_m).all():
        return None
    pred_cam_m = np.asarray(pred_mm, dtype=np.float64) / 1000.0 + wrist_m
    if (pred_cam_m[:, 2] <= 0).any():
        return None
    return project(pred_cam_m, np.asarray(cam_K, dtype=np.float64))


def wrist_relative_mpjpe_mm(pred_mm: np.ndarray, gt_m: np.ndarray,
                            valid: np.ndarray) -> float:
    """Mean joint error (mm) of a wrist-relative prediction over the valid
    joints with finite coordinates (NaN when there is none)."""
    gt_mm = np.asarray(gt_m, dtype=np.float64) * 1000.0
    gt_mm = gt_mm - gt_mm[WRIST]
    pred_mm = np.asarray(pred_mm, dtype=np.float64)
    mask = (np.asarray(valid, dtype=bool) & np.isfinite(gt_mm).all(axis=-1)
            & np.isfinite(pred_mm).all(axis=-1))
    return float(mpjpe(pred_mm[None], gt_mm[None], mask[None])[0])


@VISUALIZERS.register_module()
class Hand3DVisualizer(Visualizer):
    """Draws a hand sample and its prediction in 2D and in 3D views.

    The figure has one row of square panels: the input (crop, or a blank
    frame region for the lifting pipeline, which has no image) with the GT
    2D skeleton, the same input with the prediction projected into it, then
    one 3D panel per view with the GT (per-finger colours, solid) and the
    prediction (dark, dashed) overlaid, wrist-relative, on fixed mm axes.
    Panels without content (no GT, no prediction) are left out; without a
    GT 2D panel, the input is still shown: the bare crop, or for lifting
    the input ``keypoints_2d`` in their frame region. The figure
    is ``panel_px + header_px`` pixels high and ``panel_px`` wide per panel.

    Args:
        name (str): instance name (mmengine ``ManagerMixin``).
        vis_backends (list[dict], optional): backends ``add_datasample``
            sends figures to, e.g. ``LocalVisBackend``,
            ``TensorboardVisBackend``.
        save_dir (str, optional): backends' directory (mmengine appends
            ``vis_data``); the runner sets it to the work dir.
        views (Sequence[str]): 3D views, keys of
            :data:`hp3d.visualization.skeleton_3d.VIEWS`.
        center_mm (Sequence[float]): 3D axes centre, wrist-relative mm.
        radius_mm (float): 3D axes half-width in mm.
        panel_px (int): side of each square panel in pixels.
        header_px (int): height of the title and legend band in pixels.
        dpi (int): figure resolution (text size scales with it).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 vis_backends: Optional[List[ConfigType]] = None,
                 save_dir: Optional[str] = None,
                 views: Sequence[str] = ('front', 'side', 'top'),
                 center_mm: Sequence[float] = DEFAULT_CENTER_MM,
                 radius_mm: float = DEFAULT_RADIUS_MM,
                 panel_px: int = 360,
                 header_px: int = 56,
                 dpi: int = 100) -> None:
        super().__init__(name=name, vis_backends=vis_backends,
                         save_dir=save_dir)
        unknown = [v for v in views if v not in VIEWS]
        if unknown:
            raise ValueError(f'Unknown views {unknown}, expected some of '
                             f'{sorted(VIEWS)}')
        self.views = tuple(views)
        self.center_mm = tuple(float(c) for c in center_mm)
        self.radius_mm = float(radius_mm)
        self.panel_px = int(panel_px)
        self.header_px = int(header_px)
        self.figure_dpi = int(dpi)
        # (2D panels, 3D panels, 2D without image) -> figure, 2D, 3D axes
        self._figures: Dict[Tuple[int, int, bool], Tuple] = {}

    def add_datasample(self,
                       name: str,
                       image: Optional[np.ndarray],
                       data_sample: Dict,
                       prediction: Optional[Dict] = None,
                       draw_gt: bool = True,
                       show: bool = False,
                       wait_time: float = 0.,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw one sample; save it, or send it to the vis backends.

        Args:
            name (str): image name for the vis backends.
            image (np.ndarray, optional): (H, W, 3) uint8 BGR crop the model
                saw (its ``warp_mat`` maps frame pixels into it; the full
                frame with an identity ``warp_mat``). None for the lifting
                pipeline: the 2D panel is then a blank region of the frame
                around the hand box and 2D joints, in frame pixels.
            data_sample (dict): one sample's metadata (``take_uid``,
                ``frame_number``, ``hand``, ``keypoints_3d`` (K, 3) m,
                ``keypoints_valid`` (K,), ``cam_K``, ``bbox``; image samples
                ``warp_mat`` and optionally ``keypoints_2d_crop`` (K, 2);
                optionally ``keypoints_2d`` (K, 2) frame px, ``has_gt``).
                Without an image, ``keypoints_2d`` are the lifting input:
                drawn as the GT 2D with ground truth, else as the input.
            prediction (dict, optional): the sample's prediction dict with
                ``pred_mm`` (K, 3) wrist-relative mm.
            draw_gt (bool): draw the ground truth. Defaults to True.
            show (bool): show the figure in a window. Defaults to False.
            wait_time (float): seconds to show it; 0 waits for a key.
            out_file (str, optional): write the figure here as PNG instead
                of sending it to the vis backends.
            step (int): global step for the vis backends.

        Returns:
            np.ndarray: (H, W, 3) uint8 RGB figure.
        """
        figure = self.draw_sample(image, data_sample, prediction, draw_gt)
        if show:
            self.show(figure, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(figure[..., ::-1], out_file)
        else:
            self.add_image(name, figure, step)
        return figure

    def draw_sample(self,
                    image: Optional[np.ndarray],
                    data_sample: Dict,
                    prediction: Optional[Dict] = None,
                    draw_gt: bool = True) -> np.ndarray:
        """Render one sample's figure, without saving or sending it.

        Args:
            image (np.ndarray, optional): (H, W, 3) uint8 BGR crop, or None
                (see :meth:`add_datasample`).
            data_sample (dict): one sample's metadata.
            prediction (dict, optional): the sample's prediction dict.
            draw_gt (bool): draw the ground truth. Defaults to True.

        Returns:
            np.ndarray: (H, W, 3) uint8 RGB figure.
        """
        return self._render(
            _HandDrawing(image, data_sample, prediction, draw_gt))

    def figure_size_px(self, num_panels: int) -> Tuple[int, int]:
        """(height, width) in pixels of a figure of ``num_panels`` panels."""
        return self.panel_px + self.header_px, self.panel_px * num_panels

    def _render(self, hand: '_HandDrawing') -> np.ndarray:
        """Render a sample to an (H, W, 3) uint8 RGB array."""
        panels_2d = hand.panels_2d()
        num_3d = len(self.views) if hand.has_3d else 0
        fig, axes_2d, axes_3d = self._figure(len(panels_2d), num_3d,
                                             hand.image is None)
        for ax, (title, kind) in zip(axes_2d, panels_2d):
            hand.draw_2d(ax, kind, self.panel_px)
            ax.set_title(title, fontsize=10)
        for ax in axes_3d:
            hand.draw_3d(ax)

        # The header band: the title in its upper part, the legend below.
        header = self.header_px / self.figure_size_px(1)[0]
        fig.text(0.5, 1.0 - 0.3 * header, hand.title(), ha='center',
                 va='center', fontsize=11, fontweight='bold')
        fig.legend(handles=hand.legend_handles(), loc='center',
                   bbox_to_anchor=(0.5, 1.0 - 0.72 * header),
                   ncol=len(FINGERS) + 1, fontsize=8, frameon=False,
                   handlelength=2.5, columnspacing=1.2)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()

    def _figure(self, num_2d: int, num_3d: int, blank_2d: bool
                ) -> Tuple[Figure, List[Axes], List[Axes]]:
        """The figure and axes of a panel layout, emptied of the last
        sample's artists.

        Making the axes (3D ones above all) took about half of a figure's
        ~0.3 s, so each layout's figure is made once and reused. The axes
        keep only what :meth:`_render` sets alike for every sample.
        """
        key = (num_2d, num_3d, blank_2d)
        if key not in self._figures:
            self._figures[key] = self._new_figure(num_2d, num_3d)
        fig, axes_2d, axes_3d = self._figures[key]
        for ax in axes_2d + axes_3d:
            for artist in (*ax.images, *ax.patches, *ax.collections,
                           *ax.lines, *ax.texts):
                artist.remove()
        for artist in (*fig.texts, *fig.legends):
            artist.remove()
        return fig, axes_2d, axes_3d

    def _new_figure(self, num_2d: int, num_3d: int
                    ) -> Tuple[Figure, List[Axes], List[Axes]]:
        num_panels = max(num_2d + num_3d, 1)
        height_px, width_px = self.figure_size_px(num_panels)
        fig = Figure(figsize=(width_px / self.figure_dpi,
                              height_px / self.figure_dpi),
                     dpi=self.figure_dpi, facecolor='white')
        FigureCanvasAgg(fig)
        panel_h = self.panel_px / height_px

        def panel_rect(i: int, left: float, bottom: float, right: float,
                       top: float) -> Tuple[float, ...]:
            # [left, bottom, width, height] of panel i in figure fractions,
            # inset by margins given as fractions of the panel.
            w = 1.0 / num_panels
            return ((i + left) * w, bottom * panel_h,
                    (1 - left - right) * w, (1 - bottom - top) * panel_h)

        axes_2d = [fig.add_axes(panel_rect(i, 0.16, 0.12, 0.04, 0.1))
                   for i in range(num_2d)]
        axes_3d = []
        for j, view in enumerate(self.views[:num_3d]):
            ax = fig.add_axes(panel_rect(num_2d + j, 0.0, 0.0, 0.0, 0.06),
                              projection='3d')
            set_axes_3d(ax, view, self.center_mm, self.radius_mm,
                        title=f'3D {view} view')
            axes_3d.append(ax)
        return fig, axes_2d, axes_3d


class _HandDrawing:
    """What there is to draw of one sample, in the units each panel needs.

    Args:
        image (np.ndarray, optional): (H, W, 3) uint8 BGR crop, or None.
        data_sample (dict): one sample's metadata.
        prediction (dict, optional): the sample's prediction dict.
        draw_gt (bool): whether the ground truth is drawn.
    """

    def __init__(self, image: Optional[np.ndarray], data_sample: Dict,
                 prediction: Optional[Dict], draw_gt: bool) -> None:
        self.meta = data_sample
        self.image = image
        self.gt_m = np.asarray(data_sample['keypoints_3d'], dtype=np.float64)
        self.valid = np.asarray(data_sample['keypoints_valid'], dtype=bool)
        cam_K = np.asarray(data_sample['cam_K'], dtype=np.float64)
        wrist_known = bool(np.isfinite(self.gt_m[WRIST]).all())
        has_gt = bool(_scalar(data_sample.get('has_gt', wrist_known)))
        self.draw_gt = draw_gt and has_gt and wrist_known and self.valid.any()
        self.pred_mm = None
        if prediction is not None:
            self.pred_mm = np.asarray(prediction['pred_mm'], dtype=np.float64)
        self.mpjpe_mm = math.nan
        if self.pred_mm is not None and has_gt:
            self.mpjpe_mm = wrist_relative_mpjpe_mm(self.pred_mm, self.gt_m,
                                                    self.valid)

        # 2D joints in the panel's pixels: the crop's, or the frame's.
        if image is not None and 'warp_mat' not in data_sample:
            raise KeyError(
                f'Sample {self.name()} has an image but no warp_mat: the '
                'crop cannot be related to the frame')
        # The image is the full frame when its warp is the identity.
        self.space = 'frame' if image is None or np.allclose(
            data_sample['warp_mat'], np.eye(2, 3)) else 'crop'
        # A left hand mirrored by the pipeline (MirrorLeftHand): its crop
        # and 2D are mirrored, its 3D panels show the hand as it is.
        self.mirrored = self.space == 'crop' and bool(
            _scalar(data_sample.get('flipped', False)))
        if self.mirrored:
            self.space = 'mirrored crop'
        self.gt_2d = None
        if self.draw_gt:
            if image is not None and 'keypoints_2d_crop' in data_sample:
                self.gt_2d = np.asarray(data_sample['keypoints_2d_crop'],
                                        dtype=np.float64)
            elif image is None and 'keypoints_2d' in data_sample:
                self.gt_2d = np.asarray(data_sample['keypoints_2d'],
                                        dtype=np.float64)
            else:
                self.gt_2d = self._to_panel(project(self.gt_m, cam_K))
        # Lifting has no image: its input is the 2D keypoints. With GT they
        # are the GT 2D panel already; without, show what the model saw
        # (the codec zeroes joints that are not valid or not finite).
        self.input_2d = self.input_valid = None
        if (image is None and self.gt_2d is None
                and 'keypoints_2d' in data_sample):
            input_2d = np.asarray(data_sample['keypoints_2d'],
                                  dtype=np.float64)
            input_valid = self.valid & np.isfinite(input_2d).all(axis=-1)
            if input_valid.any():
                self.input_2d, self.input_valid = input_2d, input_valid
        self.pred_2d = None
        if self.pred_mm is not None:
            pred_frame = prediction_to_frame(self.pred_mm, self.gt_m, cam_K)
            if pred_frame is not None:
                self.pred_2d = self._to_panel(pred_frame)

    @property
    def has_3d(self) -> bool:
        return self.draw_gt or self.pred_mm is not None

    def _to_panel(self, frame_px: np.ndarray) -> np.ndarray:
        if self.image is None:
            return frame_px
        return frame_to_crop(frame_px, self.meta['warp_mat'])

    def name(self) -> str:
        take = self.meta.get('take_name', self.meta.get('take_uid', '?'))
        frame = _scalar(self.meta.get('frame_number', -1))
        return f'{_scalar(take)} frame {frame} {_scalar(self.meta["hand"])}'

    def title(self) -> str:
        take = _scalar(self.meta.get('take_name', self.meta.get('take_uid')))
        parts = [str(take), f'frame {int(_scalar(self.meta["frame_number"]))}',
                 f'{_scalar(self.meta["hand"])} hand']
        if not math.isnan(self.mpjpe_mm):
            parts.append(f'MPJPE {self.mpjpe_mm:.1f} mm')
        if self.mirrored:
            parts.append('crop mirrored, 3D as the hand is')
        return '   |   '.join(parts)

    def legend_handles(self) -> List[Line2D]:
        handles = []
        handles += [
            Line2D([], [], color=np.divide(FINGER_COLORS[f], 255.0),
                   marker='o', markersize=4, label=f)
            for f in FINGERS
        ]
        if self.draw_gt and self.pred_mm is not None:
            handles.append(Line2D([], [], color=PRED_COLOR, linestyle='--',
                                  marker='o', markersize=3,
                                  label='prediction (3D overlay)'))
        return handles

    def panels_2d(self) -> List[Tuple[str, str]]:
        """(title, kind) of each 2D panel; kind is 'gt', 'pred' or 'input'."""
        panels = []
        if self.gt_2d is not None:
            panels.append((f'GT 2D ({self.space} px)', 'gt'))
        if self.input_2d is not None:
            panels.append((f'Input 2D ({self.space} px)', 'input'))
        if self.pred_2d is not None:
            panels.append((f'Prediction projected ({self.space} px)', 'pred'))
        if not panels and self.image is not None:
            panels.append((f'Input {self.space}', 'input'))
        return panels

    def draw_2d(self, ax: Axes, kind: str, panel_px: int) -> None:
        """Draw the 2D panel ``kind`` (see :meth:`panels_2d`) on ``ax``."""
        points = dict(gt=self.gt_2d, pred=self.pred_2d,
                      input=self.input_2d).get(kind)
        valid = dict(gt=self.valid, input=self.input_valid).get(kind)
        if self.image is not None:
            self._draw_on_crop(ax, points, valid, panel_px)
        else:
            self._draw_on_frame(ax, points, valid, panel_px)

    def _draw_on_crop(self, ax: Axes, points: Optional[np.ndarray],
                      valid: Optional[np.ndarray], panel_px: int) -> None:
        height, width = self.image.shape[:2]
        # Draw at about the panel's resolution so lines stay thin and smooth.
        scale = max(1, round(panel_px / max(height, width)))
        canvas = cv2.resize(self.image, (width * scale, height * scale),
                            interpolation=cv2.INTER_LINEAR)
        if points is not None:
            # Pixel centres: crop pixel i spans [i - 0.5, i + 0.5].
            canvas = draw_skeleton_2d(canvas, (points + 0.5) * scale - 0.5,
                                      valid, radius=3, thickness=2)
        ax.imshow(canvas[..., ::-1],
                  extent=(-0.5, width - 0.5, height - 0.5, -0.5))
        ax.set_xticks([])
        ax.set_yticks([])

    def _draw_on_frame(self, ax: Axes, points: Optional[np.ndarray],
                       valid: Optional[np.ndarray], panel_px: int) -> None:
        x0, y0, size = self._frame_region()
        canvas = np.full((panel_px, panel_px, 3), _BLANK_GREY, np.uint8)
        if points is not None:
            canvas = draw_skeleton_2d(
                canvas, (points - (x0, y0)) * (panel_px / size), valid,
                radius=4, thickness=2)
        # (imshow sets the limits to the extent: reused axes follow it)
        ax.imshow(canvas[..., ::-1], extent=(x0, x0 + size, y0 + size, y0))
        bbox = np.asarray(self.meta['bbox'], dtype=np.float64)
        if np.isfinite(bbox).all():
            ax.add_patch(Rectangle(bbox[:2], *(bbox[2:] - bbox[:2]),
                                   fill=False, edgecolor='0.75',
                                   linestyle=':', linewidth=1.0))
        ax.set_xlabel('u (px)', fontsize=8)
        ax.set_ylabel('v (px)', fontsize=8)
        ax.tick_params(labelsize=7)

    def _frame_region(self) -> Tuple[float, float, float]:
        """(x0, y0, size) of a square frame region around the hand, px."""
        boxes = [np.asarray(self.meta['bbox'], dtype=np.float64)]
        for points in (self.gt_2d, self.input_2d, self.pred_2d):
            if points is not None and np.isfinite(points).any():
                finite = points[np.isfinite(points).all(axis=1)]
                boxes.append(np.concatenate([finite.min(0), finite.max(0)]))
        boxes = np.stack(boxes)
        boxes = boxes[np.isfinite(boxes).all(axis=1)]
        if not len(boxes):
            raise ValueError(f'Sample {self.name()} has no finite bbox or 2D '
                             'joints to place its 2D panel')
        lo, hi = boxes[:, :2].min(0), boxes[:, 2:].max(0)
        size = max(float((hi - lo).max()) * _REGION_SCALE, 32.0)
        x0, y0 = (lo + hi) / 2 - size / 2
        return float(x0), float(y0), size

    def draw_3d(self, ax) -> None:
        """Overlay the GT and the prediction on a 3D axes."""
        if self.draw_gt:
            plot_skeleton_3d(ax, self.gt_m * 1000.0, self.valid, label='GT')
        if self.pred_mm is not None:
            plot_skeleton_3d(ax, self.pred_mm, color=PRED_COLOR,
                             label='prediction', linestyle='--',
                             linewidth=1.2, marker_size=6)


__all__ = [
    'Hand3DVisualizer', 'frame_to_crop', 'prediction_to_frame',
    'wrist_relative_mpjpe_mm', 'PRED_COLOR'
]
