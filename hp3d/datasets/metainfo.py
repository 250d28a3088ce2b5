"""The 21-joint Ego-Exo4D hand: joint names, skeleton and colours.

One table used by datasets, codecs, metrics and visualisers. Joint order is the
official one: wrist = 0, then thumb, index, middle, ring, pinky, each from the
base (CMC/MCP) to the tip.
"""
from typing import Dict, List, Tuple

NUM_JOINTS = 21
WRIST = 0
FINGERS: Tuple[str, ...] = ('thumb', 'index', 'middle', 'ring', 'pinky')
# Official hand order in annotation files and predictions.
HANDS: Tuple[str, ...] = ('right', 'left')

JOINT_NAMES: Tuple[str, ...] = ('wrist', ) + tuple(
    f'{finger}_{i}' for finger in FINGERS for i in range(1, 5))

# Joint indices of each finger, base to tip.
FINGER_JOINTS: Dict[str, Tuple[int, ...]] = {
    finger: tuple(range(1 + 4 * f, 5 + 4 * f))
    for f, finger in enumerate(FINGERS)
}

# (parent, child) bones: wrist to each finger base, then along the finger.
SKELETON: Tuple[Tuple[int, int], ...] = tuple(
    (WRIST if i == 0 else joints[i - 1], joints[i])
    for joints in FINGER_JOINTS.values() for i in range(4))

# Parent of each joint (-1 for the wrist), derived from SKELETON.
PARENTS: Tuple[int, ...] = tuple([-1] + [p for p, _ in sorted(
    SKELETON, key=lambda bone: bone[1])])

# Wrist -> MCP of index/middle/ring/pinky: the long palm bones, whose valid
# length range (60-120 mm) differs from the other bones' (5-80 mm).
PALM_BONES: Tuple[Tuple[int, int], ...] = tuple(
    (WRIST, FINGER_JOINTS[f][0]) for f in FINGERS[1:])
BONE_RANGE_MM = (5.0, 80.0)
PALM_BONE_RANGE_MM = (60.0, 120.0)
MIN_VALID_JOINTS = 10

# Camera axis across which a left hand is mirrored into a right hand. In the
# native (landscape) Aria frame the world's left-right runs along camera y:
# both hands point towards -x and mirror each other across the x-z plane, so
# negating y (an image flip v -> H - 1 - v) makes a left hand look like the
# right hands the model sees, with the same pose statistics.
MIRROR_AXIS = 1

# RGB colours, one per finger (wrist grey), matching mmpose's hand palette.
FINGER_COLORS: Dict[str, Tuple[int, int, int]] = {
    'thumb': (255, 128, 0),
    'index': (255, 153, 255),
    'middle': (102, 178, 255),
    'ring': (255, 51, 51),
    'pinky': (0, 255, 0),
}
WRIST_COLOR = (200, 200, 200)


def joint_colors() -> List[Tuple[int, int, int]]:
    """RGB colour of each of the 21 joints."""
    colors = [WRIST_COLOR] * NUM_JOINTS
    for finger, joints in FINGER_JOINTS.items():
        for j in joints:
            colors[j] = FINGER_COLORS[finger]
    return colors


def bone_colors() -> List[Tuple[int, int, int]]:
    """RGB colour of each bone in :data:`SKELETON` (its finger's)."""
    colors = joint_colors()
    return [colors[child] for _, child in SKELETON]


# The metainfo dict datasets expose (``dataset.metainfo``), mmpose-style.
HAND_METAINFO: Dict[str, object] = dict(
    dataset_name='egoexo4d_hand',
    num_keypoints=NUM_JOINTS,
    keypoint_names=list(JOINT_NAMES),
    skeleton_links=[list(b) for b in SKELETON],
    parents=list(PARENTS),
    keypoint_colors=joint_colors(),
    skeleton_link_colors=bone_colors(),
    hands=list(HANDS),
)

__all__ = [
    'NUM_JOINTS', 'WRIST', 'FINGERS', 'HANDS', 'JOINT_NAMES', 'FINGER_JOINTS',
    'SKELETON', 'PARENTS', 'PALM_BONES', 'BONE_RANGE_MM', 'PALM_BONE_RANGE_MM',
    'MIN_VALID_JOINTS', 'MIRROR_AXIS', 'FINGER_COLORS', 'WRIST_COLOR', 'joint_colors',
    'bone_colors', 'HAND_METAINFO'
]
