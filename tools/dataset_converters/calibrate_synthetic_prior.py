"""Re-fit the synthetic generator's PosePrior to the real statistics.

Run after changing the hand model; paste the printed values into
``hp3d/datasets/synthetic/pose_prior.py`` (``PosePrior`` defaults).

    python tools/dataset_converters/calibrate_synthetic_prior.py \
        --boxes-ref tests/data/egoexo4d_public/ego_pose_gt_anno_test_public.json \
        --out work_dirs/pose_prior.json

Two stages, both on i.i.d. poses (the generator's marginal distribution):

1. Pose: the prior's angle, orientation and skeleton parameters are fitted
   with Adam through a differentiable torch copy of the sampler (latents ->
   angles -> forward kinematics -> camera rotation, left hands mirrored) to
   the per-joint wrist-relative mean/std table. The loss is the squared and
   fourth-power residuals (mean in units of 10 mm, log std ratio in units of
   log 1.25) plus a soft maximum. Which joints are valid (in frame, not
   self-occluded) is recomputed with the numpy pipeline every
   ``--revalidate`` steps and held fixed in between. Parameters are kept in
   anatomical bounds by a sigmoid.
2. Position: image centres, their spread and the depth distribution are set
   by fixed-point updates so the randomised test boxes match the reference
   file's box centres and sizes per hand.
"""
import argparse
import dataclasses
import json

import numpy as np
import torch

from hp3d.codecs.pose3d_codec import DEFAULT_JOINT_STATS_FILE
from hp3d.datasets.metainfo import (
    FINGER_JOINTS,
    FINGERS,
    HANDS,
    MIN_VALID_JOINTS,
)
from hp3d.datasets.stats import (
    annotation_stats,
    box_stats,
    compare_joint_stats,
    joint_stats_mm,
    load_joint_stats,
)
from hp3d.datasets.synthetic import (
    ANGLE_LIMITS_DEG,
    LATENT_DIM,
    LATENT_SLICES,
    PosePrior,
    intrinsics_for,
    joint_validity,
    pose_hands,
    random_test_boxes,
    sample_annotated_hands,
    sample_shapes,
)
from hp3d.datasets.synthetic import pose_prior as pp
from hp3d.datasets.synthetic.hand_model import TEMPLATE_BASE_MM

# Anatomical bounds of the fitted fields (low, high), per element.
BOUNDS = dict(
    orientation_rotvec=(-4.0, 4.0),
    orientation_scale_tril=(-0.5, 0.5),
    finger_flex_mean=(-5.0, 60.0),
    finger_flex_std=(8.0, 36.0),
    abduction_mean=(-8.0, 8.0),
    abduction_std=(3.0, 10.0),
    thumb_mean=([-45.0, -10.0, -10.0, 0.0, 0.0], [5.0, 50.0, 40.0, 50.0,
                                                  60.0]),
    thumb_std=(4.0, 20.0),
    thumb_base_mm=([-40.0, 18.0, -22.0], [-12.0, 40.0, -4.0]),
    wrist_offset_mm=([-10.0, -20.0, -12.0], [10.0, 15.0, 12.0]),
    palm_scale=(0.9, 1.08),
    palm_width_scale=(0.8, 1.3),
    finger_length_scale=(0.9, 1.1),
    thumb_length_scale=(0.9, 1.15),
    right_share=(0.4, 0.6),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--real-stats', default=DEFAULT_JOINT_STATS_FILE)
    parser.add_argument('--boxes-ref', required=True,
                        help='real annotation file whose boxes to match')
    parser.add_argument('--hands', type=int, default=4000)
    parser.add_argument('--steps', type=int, default=400)
    parser.add_argument('--lr', type=float, default=0.03)
    parser.add_argument('--revalidate', type=int, default=50)
    parser.add_argument('--out', default=None, help='write the prior (JSON)')
    return parser.parse_args()


def _axis_rotation(angle: torch.Tensor, axis: int) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    rows = {0: [one, zero, zero, zero, c, -s, zero, s, c],
            1: [c, zero, s, zero, one, zero, -s, zero, c],
            2: [c, -s, zero, s, c, zero, zero, zero, one]}[axis]
    return torch.stack(rows, -1).reshape(angle.shape + (3, 3))


def _rotvec(v: torch.Tensor) -> torch.Tensor:
    angle = torch.linalg.norm(v, dim=-1).clamp_min(1e-12)
    x, y, z = (v / angle[..., None]).unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero],
                        -1).reshape(angle.shape + (3, 3))
    s, c = torch.sin(angle)[..., None, None], torch.cos(angle)[..., None,
                                                                 None]
    return torch.eye(3) + s * cross + (1 - c) * cross @ cross


class TorchSampler:
    """Differentiable wrist-relative joints of fixed random hands (mirrors
    ``sample_shapes`` + ``pose_hands`` for a given prior)."""

    def __init__(self, num: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        unit = sample_shapes(rng, num, PosePrior(
            palm_scale=1.0, palm_width_scale=1.0, finger_length_scale=1.0,
            thumb_length_scale=1.0, thumb_base_mm=tuple(TEMPLATE_BASE_MM[0]),
            wrist_offset_mm=(0.0, 0.0, 0.0)))
        self.z = rng.standard_normal((num, LATENT_DIM))
        self.side_uniform = rng.random(num)
        self.seed, self.num = seed, num
        # Subject scale x jitter of each base, lengths at unit scales.
        self.base_factor = torch.tensor(unit.base_mm / TEMPLATE_BASE_MM)
        self.lengths = torch.tensor(unit.lengths_mm)
        self.frames = torch.tensor(unit.rest_frames)
        self.limits = torch.tensor(ANGLE_LIMITS_DEG)

    def is_left(self, prior: PosePrior) -> np.ndarray:
        return self.side_uniform < 1 - prior.right_share

    def _latent(self, name: str) -> torch.Tensor:
        return torch.tensor(self.z[:, slice(*LATENT_SLICES[name])])

    def angles(self, p: dict) -> torch.Tensor:
        grip = np.sqrt(pp.GRIP_SHARE)
        curl = (grip * self._latent('grip')
                + np.sqrt(1 - grip**2) * self._latent('curl'))
        pip = (pp.PIP_FROM_CURL * curl + np.sqrt(1 - pp.PIP_FROM_CURL**2)
               * self._latent('pip'))
        dip = (pp.DIP_FROM_PIP * pip + np.sqrt(1 - pp.DIP_FROM_PIP**2)
               * self._latent('dip'))
        flex = [p['finger_flex_mean'][:, k] + p['finger_flex_std'][:, k] * lat
                for k, lat in enumerate((curl, pip, dip))]
        abduction = (p['abduction_mean']
                     + p['abduction_std'] * self._latent('abduction'))
        load = torch.tensor(pp.OPPOSITION_LOADINGS)
        thumb = self._latent('thumb')
        thumb = torch.cat([load * self._latent('opposition')
                           + torch.sqrt(1 - load**2) * thumb[:, :3],
                           thumb[:, 3:]], 1)
        thumb = p['thumb_mean'] + p['thumb_std'] * thumb
        fingers = torch.stack([abduction, torch.zeros_like(abduction)] + flex,
                              -1)
        angles = torch.cat([thumb[:, None], fingers], 1)
        angles = torch.maximum(torch.minimum(angles, self.limits[..., 1]),
                               self.limits[..., 0])
        return torch.deg2rad(angles)

    def joints_mm(self, p: dict, is_left: np.ndarray) -> torch.Tensor:
        """(N, K, 3) wrist-relative joints in the camera frame."""
        template = torch.tensor(TEMPLATE_BASE_MM) * p['palm_scale']
        template = template * torch.stack(
            [p['palm_width_scale'], torch.ones(()), torch.ones(())])
        template = torch.cat([p['thumb_base_mm'][None], template[1:]], 0)
        base = (template + p['wrist_offset_mm']) * self.base_factor
        scale = torch.stack([p['thumb_length_scale']]
                            + [p['finger_length_scale']] * 4)
        lengths = self.lengths * scale[None, :, None]
        angles = self.angles(p)
        joints = [torch.zeros(self.num, 3)] * 21
        for f, finger in enumerate(FINGERS):
            a = angles[:, f]
            rot = (self.frames[:, f] @ _axis_rotation(-a[:, 0], 2)
                   @ _axis_rotation(a[:, 1], 1))
            position = base[:, f]
            chain = FINGER_JOINTS[finger]
            joints[chain[0]] = position
            for k in range(3):
                rot = rot @ _axis_rotation(-a[:, 2 + k], 0)
                position = position + lengths[:, f, k, None] * rot[..., 1]
                joints[chain[k + 1]] = position
        local = torch.stack(joints, 1)
        orient = torch.tensor(self.z[:, :3]) @ torch.tril(
            p['orientation_scale_tril']).T
        rot = _rotvec(p['orientation_rotvec']) @ _rotvec(orient)
        rel = local @ rot.transpose(1, 2)
        mirror = torch.tensor(np.where(is_left[:, None], [1.0, -1.0, 1.0],
                                       [1.0, 1.0, 1.0]))
        return rel * mirror[:, None]

    def validity(self, prior: PosePrior) -> np.ndarray:
        """(N, K) flags of the kept hands (numpy pipeline)."""
        cam_K = intrinsics_for(512)
        shapes = sample_shapes(np.random.default_rng(self.seed), self.num,
                               prior)
        hands = pose_hands(shapes, self.z, self.is_left(prior), prior, cam_K)
        valid = joint_validity(hands, cam_K, 512)[1]
        return valid & (valid.sum(1) >= MIN_VALID_JOINTS)[:, None]


def _bounds(name: str):
    low, high = BOUNDS[name]
    return (torch.as_tensor(low, dtype=torch.float64),
            torch.as_tensor(high, dtype=torch.float64))


def _to_raw(prior: PosePrior) -> dict:
    raw = {}
    for name in BOUNDS:
        low, high = _bounds(name)
        value = torch.tensor(np.asarray(getattr(prior, name), float))
        x = ((value - low) / (high - low)).clamp(1e-3, 1 - 1e-3)
        raw[name] = torch.log(x / (1 - x)).requires_grad_(True)
    return raw


def _from_raw(raw: dict) -> dict:
    out = {}
    for name, value in raw.items():
        low, high = _bounds(name)
        out[name] = low + (high - low) * torch.sigmoid(value)
    return out


def _as_tuple(array: np.ndarray):
    if array.ndim == 1:
        return tuple(float(v) for v in array)
    return tuple(_as_tuple(row) for row in array)


def _to_prior(prior: PosePrior, params: dict) -> PosePrior:
    values = {}
    for name, value in params.items():
        array = np.round(value.detach().numpy(), 4)
        if name == 'orientation_scale_tril':
            array = np.tril(array)
        values[name] = float(array) if array.ndim == 0 else _as_tuple(array)
    return dataclasses.replace(prior, **values)


def fit_pose(prior: PosePrior, ref_mean: np.ndarray, ref_std: np.ndarray,
             args: argparse.Namespace) -> PosePrior:
    """Stage 1: Adam on the pose parameters."""
    sampler = TorchSampler(args.hands)
    raw = _to_raw(prior)
    optimizer = torch.optim.Adam(raw.values(), lr=args.lr)
    ref_mean, ref_std = torch.tensor(ref_mean), torch.tensor(ref_std)
    for step in range(args.steps):
        if step % args.revalidate == 0:
            current = _to_prior(prior, _from_raw(raw))
            is_left = sampler.is_left(current)
            valid = torch.tensor(sampler.validity(current), dtype=torch.float64)
        params = _from_raw(raw)
        share = params['right_share']
        # Side weights let the share of right hands move smoothly.
        weight = valid * torch.where(torch.tensor(is_left), (1 - share) / 0.5,
                                     share / 0.5)[:, None]
        rel = sampler.joints_mm(params, is_left)
        count = weight.sum(0)[:, None]
        mean = (rel * weight[..., None]).sum(0) / count
        var = ((rel - mean)**2 * weight[..., None]).sum(0) / count
        r_mean = ((mean - ref_mean) / 10.0)[1:]
        r_std = (torch.log(torch.sqrt(var + 1e-9) / ref_std.clamp_min(1e-6))
                 / np.log(1.25))[1:]
        r = torch.cat([r_mean.ravel(), r_std.ravel()])
        loss = ((r**2).mean() + 0.5 * (r**4).mean()
                + 0.5 * torch.logsumexp(8 * r**2, 0) / 8)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f'step {step}: loss {loss.item():.4f}, worst mean '
                  f'{10 * r_mean.abs().max().item():.2f} mm, worst log-std '
                  f'{r_std.abs().max().item():.2f} (units of log 1.25)')
    return _to_prior(prior, _from_raw(raw))


def _test_boxes(prior: PosePrior, num: int = 6000):
    rng = np.random.default_rng(11)
    hands = sample_annotated_hands(rng, num, prior)
    boxes = random_test_boxes(rng, np.nan_to_num(hands['keypoints_2d']),
                              hands['valid'], 512)
    return box_stats(boxes, hands['is_left'])


def fit_position(prior: PosePrior, ref: dict, iters: int = 6) -> PosePrior:
    """Stage 2: fixed-point updates of the image position and depth."""
    hands = HANDS
    for _ in range(iters):
        box = _test_boxes(prior)
        centers = {h: tuple(np.round(np.asarray(getattr(
            prior, f'{h}_center_px')) + np.asarray(ref[h]['center_mean'])
            - box[h]['center_mean'], 1).tolist()) for h in hands}
        spread = np.asarray(prior.center_std_px) * np.sum(
            [ref[h]['center_std'] for h in hands], 0) / np.sum(
                [box[h]['center_std'] for h in hands], 0)
        size = np.mean([box[h]['size_mean'] for h in hands])
        ref_size = np.mean([ref[h]['size_mean'] for h in hands])
        cv = np.mean([np.divide(box[h]['size_std'], box[h]['size_mean'])
                      for h in hands])
        ref_cv = np.mean([np.divide(ref[h]['size_std'], ref[h]['size_mean'])
                          for h in hands])
        prior = dataclasses.replace(
            prior, right_center_px=centers['right'],
            left_center_px=centers['left'],
            center_std_px=tuple(np.round(spread, 1).tolist()),
            depth_median_m=round(float(prior.depth_median_m * size / ref_size),
                                 4),
            depth_log_std=round(float(max(0.05, prior.depth_log_std + ref_cv
                                          - cv)), 4))
    return prior


def main() -> None:
    args = parse_args()
    torch.set_default_dtype(torch.float64)
    ref_mean, ref_std = load_joint_stats(args.real_stats)
    ref_box = annotation_stats(args.boxes_ref)['box']
    prior = fit_pose(PosePrior(), ref_mean, ref_std, args)
    prior = fit_position(prior, ref_box)
    hands = sample_annotated_hands(np.random.default_rng(7), 8000, prior)
    comp = compare_joint_stats(*joint_stats_mm(hands['keypoints_3d'],
                                               hands['valid']),
                               ref_mean, ref_std)
    print(f"i.i.d. check: worst mean {comp['worst_mean_delta_mm']:.2f} mm, "
          f"worst std ratio {comp['worst_std_ratio']:.3f}, "
          f"{'PASS' if comp['all_passed'] else 'FAIL'}")
    print(prior)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dataclasses.asdict(prior), f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
