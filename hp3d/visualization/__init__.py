from .batch_utils import sample_image, slice_sample
from .hand3d_visualizer import (
                                Hand3DVisualizer,
                                frame_to_crop,
                                prediction_to_frame,
                                wrist_relative_mpjpe_mm,
)
from .skeleton_2d import draw_skeleton_2d
from .skeleton_3d import VIEWS, plot_skeleton_3d, set_axes_3d, skeleton_segments_3d
from .vis_hook import Hand3DVisualizationHook

__all__ = [
    'draw_skeleton_2d', 'plot_skeleton_3d', 'set_axes_3d', 'VIEWS',
    'skeleton_segments_3d',
    'Hand3DVisualizer', 'Hand3DVisualizationHook', 'slice_sample',
    'sample_image', 'frame_to_crop', 'prediction_to_frame',
    'wrist_relative_mpjpe_mm'
]
