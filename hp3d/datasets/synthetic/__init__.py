"""Synthetic Ego-Exo4D hand data: a kinematic hand model, a pose prior
calibrated to the real annotation statistics, a renderer and a writer of the
official on-disk layout (see docs/synthetic.md)."""
from .annotation import (
                         hand_fields,
                         mask_invalid,
                         padded_keypoint_boxes,
                         random_test_boxes,
                         sample_annotated_hands,
)
from .generate import (
                         CAMERA_NAME,
                         GT_FILE,
                         SPLITS,
                         TEST_BOXES_FILE,
                         assign_splits,
                         generate_dataset,
                         generate_take,
                         split_counts,
)
from .hand_model import (
                         ANGLE_LIMITS_DEG,
                         ANGLE_NAMES,
                         INTERIOR_ANGLE_JOINTS,
                         INTERIOR_ANGLE_MIN_DEG,
                         HandShape,
                         bone_lengths,
                         forward_kinematics,
                         interior_angles_deg,
                         sample_hand_shapes,
)
from .hand_pose import HandPoses, intrinsics_for, palm_outline_m, pose_hands
from .motion import (
                         sample_frame_numbers,
                         sample_head_motion,
                         sample_presence,
                         smooth_latents,
                         smooth_noise,
)
from .pose_prior import (
                         LATENT_DIM,
                         LATENT_SLICES,
                         PosePrior,
                         latents_to_angles,
                         sample_shapes,
)
from .render import (
                         SCENARIOS,
                         TakeAppearance,
                         draw_hands,
                         encode_jpeg,
                         make_background,
                         render_frame,
                         sample_appearance,
)
from .visibility import joint_validity, self_occluded

__all__ = [
    'generate_dataset', 'generate_take', 'split_counts', 'assign_splits',
    'SPLITS', 'CAMERA_NAME', 'GT_FILE', 'TEST_BOXES_FILE', 'HandShape',
    'sample_hand_shapes', 'forward_kinematics', 'bone_lengths',
    'interior_angles_deg', 'ANGLE_NAMES', 'ANGLE_LIMITS_DEG',
    'INTERIOR_ANGLE_JOINTS', 'INTERIOR_ANGLE_MIN_DEG', 'PosePrior',
    'LATENT_DIM', 'LATENT_SLICES', 'latents_to_angles', 'sample_shapes', 'HandPoses',
    'pose_hands', 'intrinsics_for', 'palm_outline_m', 'joint_validity',
    'self_occluded', 'padded_keypoint_boxes', 'random_test_boxes',
    'mask_invalid', 'hand_fields', 'sample_annotated_hands',
    'sample_frame_numbers', 'smooth_noise', 'smooth_latents',
    'sample_presence', 'sample_head_motion', 'SCENARIOS', 'TakeAppearance',
    'make_background', 'sample_appearance', 'draw_hands', 'render_frame',
    'encode_jpeg'
]
