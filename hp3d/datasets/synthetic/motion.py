"""Video-like time series for one take: frame numbers, smooth latents,
hand presence and head motion.

Frames are sampled at 30 fps; annotated frames step like the real takes
(mostly every 3rd frame, sometimes 6, 9 or 12). Every random process is
defined on the 30 fps grid, so a longer gap between annotated frames means a
larger change.

Note:
    Shape symbols: ``T`` annotated frames of a take, ``D`` latent dims.
"""
from typing import Tuple

import numpy as np

from .hand_model import axis_rotation, rotvec_to_matrix

# Steps between annotated frames and their probabilities (the public test
# file: 80 % steps of 3, then 6, 9, 12).
FRAME_STEPS = (3, 6, 9, 12)
FRAME_STEP_PROBS = (0.82, 0.11, 0.04, 0.03)
# Latent mixture: a take-level constant (the task's habitual pose), a slow
# and a fast smooth component (Gaussian kernel std in 30 fps frames).
TAKE_SHARE = 0.05
SLOW_SHARE, SLOW_SIGMA_FRAMES = 0.6, 6.0
FAST_SHARE, FAST_SIGMA_FRAMES = 0.35, 3.0
# Hand presence: a two-state Markov chain per annotated frame, leaving the
# view with this probability (so in view for ~50 frames at a time).
PRESENCE_LEAVE_PROB = 0.02


def sample_frame_numbers(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """(T,) increasing frame numbers of a take's annotated frames."""
    start = int(rng.integers(30, 6000))
    steps = rng.choice(FRAME_STEPS, size=num_frames - 1, p=FRAME_STEP_PROBS)
    return start + np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)


def smooth_noise(rng: np.random.Generator, frames: np.ndarray, dim: int,
                 sigma_frames: float) -> np.ndarray:
    """Stationary unit-variance Gaussian process sampled at ``frames``.

    White noise on the 30 fps grid smoothed by a Gaussian kernel (std
    ``sigma_frames``) normalised to unit energy, so every value is N(0, 1)
    and values ``d`` frames apart correlate by ``exp(-d^2 / (4 sigma^2))``.

    Args:
        rng (np.random.Generator): random source.
        frames (np.ndarray): (T,) increasing frame numbers.
        dim (int): number of independent processes D.
        sigma_frames (float): kernel std in frames.

    Returns:
        np.ndarray: (T, D).
    """
    half = int(np.ceil(4 * sigma_frames))
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_frames)**2)
    kernel /= np.sqrt(np.sum(kernel**2))
    first = frames[0] - half
    white = rng.standard_normal((int(frames[-1] - first) + half + 1, dim))
    window = (frames - first)[:, None] + offsets[None]
    return np.einsum('k,tkd->td', kernel, white[window])


def smooth_latents(rng: np.random.Generator, frames: np.ndarray,
                   dim: int) -> np.ndarray:
    """(T, D) standard-normal latents, smooth over a take.

    A take-level constant plus a slow and a fast smooth process; the shares
    sum to 1 so every value is marginally N(0, 1), like i.i.d. sampling.
    """
    constant = rng.standard_normal((1, dim))
    slow = smooth_noise(rng, frames, dim, SLOW_SIGMA_FRAMES)
    fast = smooth_noise(rng, frames, dim, FAST_SIGMA_FRAMES)
    return (np.sqrt(TAKE_SHARE) * constant + np.sqrt(SLOW_SHARE) * slow
            + np.sqrt(FAST_SHARE) * fast)


def sample_presence(rng: np.random.Generator, num_frames: int,
                    in_view: float) -> np.ndarray:
    """(T,) bool: whether a hand is in view (a two-state Markov chain).

    Starts in its stationary distribution; stays in view for ~50 frames at a
    time and is in view a share ``in_view`` of the frames.

    Args:
        rng (np.random.Generator): random source.
        num_frames (int): T.
        in_view (float): stationary probability of being in view, < 1.
    """
    if not 0 < in_view < 1:
        raise ValueError(f'in_view must be in (0, 1), got {in_view}')
    leave = PRESENCE_LEAVE_PROB
    back = min(1.0, in_view * leave / (1 - in_view))
    uniform = rng.random(num_frames)
    present = np.zeros(num_frames, dtype=bool)
    state = uniform[0] < in_view
    for t in range(num_frames):
        if t:
            state = state != (uniform[t] < (leave if state else back))
        present[t] = state
    return present


def sample_head_motion(rng: np.random.Generator,
                       frames: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Smooth head (camera) motion of a take.

    Args:
        rng (np.random.Generator): random source.
        frames (np.ndarray): (T,) frame numbers.

    Returns:
        tuple:
        - extrinsics (np.ndarray): (T, 3, 4) world-to-camera ``[R | t]``
          (metres), the ``camera_extrinsics`` of the take's camera file.
        - relative_rotation (np.ndarray): (T, 3, 3) camera rotation of each
          frame relative to the first (camera frame of frame t from frame 0),
          which moves the far background.
    """
    # Initial pose: the wearer looks down at the workspace, somewhere in a
    # room; the head then turns by a few degrees and drifts by centimetres.
    yaw0 = rng.uniform(-np.pi, np.pi)
    base = axis_rotation(np.deg2rad(rng.uniform(25, 50)), 0) @ axis_rotation(
        yaw0, 1)
    position0 = np.array([rng.uniform(-2, 2), -1.6, rng.uniform(-2, 2)])
    angles = np.deg2rad(4.0) * smooth_noise(rng, frames, 3, 20.0)
    drift = 0.03 * smooth_noise(rng, frames, 3, 25.0)
    relative = rotvec_to_matrix(angles - angles[:1])
    rotation = relative @ base
    position = position0 + drift
    translation = -np.einsum('tij,tj->ti', rotation, position)
    extrinsics = np.concatenate([rotation, translation[..., None]], axis=-1)
    return extrinsics, relative


__all__ = [
    'sample_frame_numbers', 'smooth_noise', 'smooth_latents',
    'sample_presence', 'sample_head_motion'
]
