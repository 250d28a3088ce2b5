"""Rendering of synthetic egocentric frames with numpy + OpenCV.

A frame is a per-take procedural background (room, work surface, clutter)
that moves with the head, the hands drawn as 3D bodies in painter's order
(far parts first), then camera effects (lighting, vignetting, blur, noise,
JPEG). Hands are drawn so that their pose can be read from the pixels:

- the palm is a slab (side walls, then the face turned to the camera), the
  fingers capsules whose width follows ``f * radius / depth``, each part shaded
  by a directional light on its surface normal and darkened with depth, with a
  thin dark outline that separates overlapping parts;
- the back of the hand shows nails and knuckle creases, the palm is lighter
  and shows palm creases, so palm orientation and handedness are visible
  (a left hand is the mirror image of a right one, never the same image);
- each finger carries a subtle tint of its own.

Images are BGR ``uint8`` (OpenCV's order) of ``image_size`` squared.

Note:
    Shape symbols: ``H``, ``W`` image size, ``N`` hands, ``K`` = 21 joints.
"""
from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np

from ..metainfo import FINGER_JOINTS, FINGERS, WRIST
from .hand_pose import HandPoses, palm_outline_m, project_points

SCENARIOS: Tuple[str, ...] = ('cooking', 'bike_repair', 'piano', 'guitar',
                              'violin', 'covid_test', 'cpr')
# Skin tones (RGB), light to dark.
SKIN_TONES_RGB = np.array([
    [241, 206, 180], [232, 190, 160], [224, 172, 140], [205, 150, 115],
    [184, 128, 94], [160, 106, 76], [132, 86, 60], [100, 66, 48],
])
# Per-finger tint (RGB multipliers): subtle, so fingers stay skin-coloured
# but a model can tell them apart.
FINGER_TINTS = np.array([
    [1.04, 0.99, 0.96], [1.00, 1.03, 0.99], [0.98, 1.00, 1.04],
    [1.03, 0.97, 1.01], [0.97, 1.02, 1.02],
])
# Work-surface and room colours (RGB) per scenario.
SCENARIO_PALETTES = {
    'cooking': ([[200, 170, 130], [225, 225, 215], [150, 110, 80]],
                [[230, 225, 210], [190, 200, 205]]),
    'bike_repair': ([[90, 90, 95], [140, 135, 125], [60, 65, 70]],
                    [[170, 170, 160], [120, 125, 130]]),
    'piano': ([[30, 30, 30], [240, 240, 235], [80, 50, 35]],
              [[200, 190, 175], [150, 130, 110]]),
    'guitar': ([[120, 80, 50], [70, 60, 55], [160, 120, 80]],
               [[210, 200, 190], [110, 100, 90]]),
    'violin': ([[140, 80, 40], [90, 70, 60], [180, 150, 110]],
               [[220, 215, 205], [130, 120, 110]]),
    'covid_test': ([[235, 235, 235], [180, 200, 220], [210, 215, 220]],
                   [[240, 240, 240], [200, 210, 215]]),
    'cpr': ([[70, 90, 140], [180, 60, 50], [200, 200, 200]],
            [[190, 195, 200], [150, 160, 170]]),
}
NOISE_PAD = 32


@dataclass
class TakeAppearance:
    """Everything that looks the same through one take.

    Attributes:
        skin_rgb (np.ndarray): (3,) skin colour.
        palm_rgb (np.ndarray): (3,) colour of the palm side.
        nail_rgb (np.ndarray): (3,) nail colour.
        sleeve_rgb (np.ndarray): (3,) sleeve colour.
        light_dir (np.ndarray): (3,) unit vector towards the light, camera
            frame.
        ambient (float): ambient share of the lighting.
        background (np.ndarray): (H, W, 3) BGR base background.
        vignette (np.ndarray): (H, W, 3) uint8 multiplier (255 = 1).
        noise (np.ndarray): (H + pad, W + pad, 3) int16 sensor noise tile.
        color_gain (np.ndarray): (3,) BGR white-balance gain.
        jpeg_quality (tuple): range of the JPEG quality.
        blur_sigma_px (float): largest defocus blur.
        motion_blur_prob (float): share of frames with motion blur.
    """

    skin_rgb: np.ndarray
    palm_rgb: np.ndarray
    nail_rgb: np.ndarray
    sleeve_rgb: np.ndarray
    light_dir: np.ndarray
    ambient: float
    background: np.ndarray
    vignette: np.ndarray
    noise: np.ndarray
    color_gain: np.ndarray
    jpeg_quality: Tuple[int, int]
    blur_sigma_px: float
    motion_blur_prob: float


def _bgr(rgb: np.ndarray) -> Tuple[float, float, float]:
    rgb = np.clip(rgb, 0, 255)
    return float(rgb[2]), float(rgb[1]), float(rgb[0])


def _jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb, float) * rng.uniform(1 - amount,
                                                        1 + amount, 3), 0, 255)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixel points as cv2 4-bit fixed point int32 (sub-pixel drawing)."""
    return np.round(np.asarray(points) * 16).astype(np.int32)


def _draw_object(rng: np.random.Generator, img: np.ndarray, center, size,
                 color_rgb: np.ndarray) -> None:
    """One clutter object: ellipse, box, polygon, bar or ring, with a rim."""
    kind = rng.integers(5)
    color = _bgr(color_rgb)
    rim = _bgr(color_rgb * 0.55)
    angle = float(rng.uniform(0, 180))
    cx, cy = float(center[0]), float(center[1])
    if kind == 0:
        axes = (int(size), int(size * rng.uniform(0.4, 1.0)))
        cv2.ellipse(img, (int(cx), int(cy)), axes, angle, 0, 360, color, -1,
                    cv2.LINE_AA)
        cv2.ellipse(img, (int(cx), int(cy)), axes, angle, 0, 360, rim, 2,
                    cv2.LINE_AA)
    elif kind == 1:
        box = cv2.boxPoints(((cx, cy), (size * rng.uniform(1, 2.5),
                                        size * rng.uniform(0.5, 1.5)), angle))
        cv2.fillConvexPoly(img, _fixed(box), color, cv2.LINE_AA, 4)
        cv2.polylines(img, [_fixed(box)], True, rim, 2, cv2.LINE_AA, 4)
    elif kind == 2:
        n = int(rng.integers(3, 7))
        theta = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = size * rng.uniform(0.5, 1.2, n)
        poly = np.stack([cx + radius * np.cos(theta),
                         cy + radius * np.sin(theta)], 1)
        cv2.fillPoly(img, [_fixed(poly)], color, cv2.LINE_AA, 4)
    elif kind == 3:
        d = size * 1.5 * np.array([np.cos(np.deg2rad(angle)),
                                   np.sin(np.deg2rad(angle))])
        p1, p2 = _fixed([cx - d[0], cy - d[1]]), _fixed([cx + d[0], cy + d[1]])
        width = int(max(2, size * rng.uniform(0.1, 0.35)))
        cv2.line(img, tuple(p1), tuple(p2), rim, width + 2, cv2.LINE_AA, 4)
        cv2.line(img, tuple(p1), tuple(p2), color, width, cv2.LINE_AA, 4)
    else:
        cv2.circle(img, (int(cx), int(cy)), int(size), rim,
                   int(max(2, size * 0.25)), cv2.LINE_AA)
        cv2.circle(img, (int(cx), int(cy)), int(size * 0.2), color, -1,
                   cv2.LINE_AA)


def _draw_scenario_pattern(rng: np.random.Generator, img: np.ndarray,
                           scenario: str, surface: np.ndarray) -> None:
    """Scenario-specific structure on the work surface (keys, strings...)."""
    size = img.shape[0]
    if scenario == 'piano':
        x0 = rng.uniform(0.45, 0.65) * size
        for y in np.arange(rng.uniform(0, 20), size, size / 22):
            cv2.rectangle(img, (int(x0), int(y)),
                          (size, int(y + size / 24)), (235, 235, 235), -1)
            if rng.random() < 0.7:
                cv2.rectangle(img, (int(x0), int(y + size / 30)),
                              (int(x0 + size * 0.12), int(y + size / 18)),
                              (25, 25, 25), -1)
    elif scenario in ('guitar', 'violin'):
        center = (int(rng.uniform(0.6, 0.9) * size),
                  int(rng.uniform(0.3, 0.7) * size))
        axes = (int(size * 0.25), int(size * 0.18))
        cv2.ellipse(img, center, axes, rng.uniform(0, 180), 0, 360,
                    _bgr(surface[0] * 1.2), -1, cv2.LINE_AA)
        for k in range(6):
            y = center[1] - 20 + 8 * k
            cv2.line(img, (0, y), (size, y + int(rng.uniform(-40, 40))),
                     (200, 200, 190), 1, cv2.LINE_AA)
    elif scenario == 'bike_repair':
        center = (int(rng.uniform(0.5, 1.0) * size),
                  int(rng.uniform(0.0, 1.0) * size))
        radius = int(size * rng.uniform(0.25, 0.4))
        cv2.circle(img, center, radius, (30, 30, 30), 14, cv2.LINE_AA)
        for a in np.linspace(0, np.pi, 12, endpoint=False):
            d = radius * np.array([np.cos(a), np.sin(a)])
            cv2.line(img, (int(center[0] - d[0]), int(center[1] - d[1])),
                     (int(center[0] + d[0]), int(center[1] + d[1])),
                     (160, 160, 165), 1, cv2.LINE_AA)


def make_background(rng: np.random.Generator, image_size: int,
                    scenario: str) -> np.ndarray:
    """A take's base background (H, W, 3) BGR uint8.

    In the native Aria view the world's "down" is the image's +u side: the
    work surface fills the right part of the frame, the room the left part.
    Low-frequency colour fields, a grain texture, scenario structure and
    10-25 clutter objects.
    """
    size = image_size
    surface, room = (np.asarray(c, float) for c in SCENARIO_PALETTES[scenario])
    grid = rng.uniform(0.8, 1.15, (4, 4, 1)) * _jitter(rng, room[rng.integers(
        len(room))], 0.1)[::-1]
    img = cv2.resize(grid.astype(np.float32), (size, size),
                     interpolation=cv2.INTER_CUBIC)
    # Work surface: the part right of a slanted edge.
    edge = rng.uniform(0.15, 0.45) * size + np.linspace(
        0, 1, size) * rng.uniform(-0.25, 0.25) * size
    table = (np.arange(size)[None, :] > edge[:, None]).astype(np.float32)
    table = cv2.GaussianBlur(table, (0, 0), 2.0)[..., None]
    surface_color = _jitter(rng, surface[rng.integers(len(surface))],
                            0.12)[::-1].astype(np.float32)
    grain_freq = rng.uniform(0.05, 0.3)
    grain = (np.sin(np.arange(size) * grain_freq + rng.uniform(0, 6))[None, :]
             * rng.uniform(0, 0.08)).astype(np.float32)
    shade = cv2.resize(rng.uniform(0.85, 1.1, (6, 6)).astype(np.float32),
                       (size, size), interpolation=cv2.INTER_CUBIC)
    surface_img = surface_color * (shade + grain)[..., None]
    img = img * (1 - table) + surface_img * table
    texture = cv2.resize(rng.standard_normal(
        (size // 4, size // 4)).astype(np.float32), (size, size),
        interpolation=cv2.INTER_LINEAR)
    img = np.clip(img * (1 + 0.04 * texture[..., None]), 0, 255).astype(
        np.uint8)
    _draw_scenario_pattern(rng, img, scenario, surface)
    for _ in range(int(rng.integers(10, 26))):
        on_table = rng.random() < 0.7
        u = rng.uniform(edge.mean() if on_table else 0,
                        size if on_table else edge.mean())
        color = (_jitter(rng, surface[rng.integers(len(surface))], 0.5)
                 if rng.random() < 0.4 else rng.uniform(20, 240, 3))
        _draw_object(rng, img, (u, rng.uniform(0, size)),
                     rng.uniform(0.03, 0.14) * size, color)
    return img


def sample_appearance(rng: np.random.Generator, image_size: int,
                      scenario: str) -> TakeAppearance:
    """Skin, clothing, light, background and camera quality of a take."""
    skin = _jitter(rng, SKIN_TONES_RGB[rng.integers(len(SKIN_TONES_RGB))],
                   0.06)
    # Palms are lighter and pinker than the back of the hand, most so for
    # dark skin.
    palm = skin + (np.array([235, 190, 170]) - skin) * rng.uniform(0.25, 0.45)
    nail = skin + (np.array([245, 215, 210]) - skin) * rng.uniform(0.45, 0.7)
    sleeve = rng.uniform(15, 235, 3)
    # Light from above (world up is the image's -u in the native view) and
    # from behind the wearer, randomised.
    light = np.array([-rng.uniform(0.3, 1.0), rng.uniform(-0.6, 0.6),
                      -rng.uniform(0.2, 0.9)])
    size = image_size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r2 = ((xx - size / 2)**2 + (yy - size / 2)**2) / (size / 2)**2
    vignette = np.clip(1 - rng.uniform(0.1, 0.35) * r2 / 2, 0, 1) * 255
    noise = np.round(rng.normal(0, rng.uniform(1.5, 5.0),
                                (size + NOISE_PAD, size + NOISE_PAD, 3)))
    return TakeAppearance(
        skin_rgb=skin, palm_rgb=palm, nail_rgb=nail, sleeve_rgb=sleeve,
        light_dir=light / np.linalg.norm(light),
        ambient=float(rng.uniform(0.35, 0.6)),
        background=make_background(rng, image_size, scenario),
        vignette=np.repeat(vignette[..., None], 3, 2).astype(np.uint8),
        noise=noise.astype(np.int16),
        color_gain=rng.uniform(0.9, 1.1, 3),
        jpeg_quality=(int(rng.integers(55, 80)), int(rng.integers(85, 96))),
        blur_sigma_px=float(rng.uniform(0.3, 1.4)),
        motion_blur_prob=float(rng.uniform(0.0, 0.3)))


class _Painter:
    """Collects shaded hand parts and draws them far to near."""

    def __init__(self, appearance: TakeAppearance, cam_K: np.ndarray):
        self.app = appearance
        self.cam_K = cam_K
        self.focal = float(cam_K[0, 0])
        self.parts: List[Tuple[float, int, tuple]] = []

    def shade(self, rgb: np.ndarray, normal: np.ndarray,
              depth: float) -> np.ndarray:
        """Lambert shading with ambient light, darker with depth."""
        lambert = max(0.0, float(normal @ self.app.light_dir))
        light = self.app.ambient + (1 - self.app.ambient) * lambert
        fade = np.clip(1.2 - 0.8 * depth, 0.7, 1.12)
        return np.clip(rgb * light * fade * 1.15, 0, 255)

    def add(self, depth: float, kind: str, *args) -> None:
        self.parts.append((depth, len(self.parts), (kind, ) + args))

    def draw(self, img: np.ndarray) -> None:
        for _, _, (kind, *args) in sorted(self.parts, key=lambda p: (-p[0],
                                                                     p[1])):
            getattr(self, f'_draw_{kind}')(img, *args)

    # Drawing primitives -------------------------------------------------
    @staticmethod
    def _draw_poly(img, points_px, rgb, outline_rgb):
        pts = _fixed(points_px)
        cv2.fillPoly(img, [pts], _bgr(rgb), cv2.LINE_AA, 4)
        if outline_rgb is not None:
            cv2.polylines(img, [pts], True, _bgr(outline_rgb), 1, cv2.LINE_AA,
                          4)

    @staticmethod
    def _draw_finger(img, segments):
        """A finger: its segments' outlines, then fills, highlights, marks.

        Outlining the whole finger first keeps it one continuous body while
        the segments keep their own shading and the joint creases.
        """
        lines = []
        for p1, p2, radius_px, rgb, highlight, marks in segments:
            width = max(1, int(round(2 * radius_px)))
            lines.append((tuple(_fixed(p1)), tuple(_fixed(p2)), width))
        for (a, b, width), segment in zip(lines, segments):
            cv2.line(img, a, b, _bgr(segment[3] * 0.6), width + 2, cv2.LINE_AA,
                     4)
        for (a, b, width), segment in zip(lines, segments):
            cv2.line(img, a, b, _bgr(segment[3]), width, cv2.LINE_AA, 4)
        for (a, b, width), segment in zip(lines, segments):
            if width >= 6:
                shift = _fixed(segment[4])
                cv2.line(img, (a[0] + shift[0], a[1] + shift[1]),
                         (b[0] + shift[0], b[1] + shift[1]),
                         _bgr(segment[3] * 1.1), max(1, width // 4),
                         cv2.LINE_AA, 4)
            for points, mark_rgb in segment[5]:
                pts = _fixed(points)
                if len(pts) == 2:
                    cv2.line(img, tuple(pts[0]), tuple(pts[1]),
                             _bgr(mark_rgb), 1, cv2.LINE_AA, 4)
                else:
                    cv2.fillConvexPoly(img, pts, _bgr(mark_rgb), cv2.LINE_AA,
                                       4)
                    cv2.polylines(img, [pts], True, _bgr(mark_rgb * 0.8), 1,
                                  cv2.LINE_AA, 4)

    def _draw_slab(self, img, walls, face_px, face_rgb, outline_rgb, marks):
        for wall_px, wall_rgb in walls:
            cv2.fillConvexPoly(img, _fixed(wall_px), _bgr(wall_rgb),
                               cv2.LINE_AA, 4)
        self._draw_poly(img, face_px, face_rgb, outline_rgb)
        for points, mark_rgb in marks:
            cv2.polylines(img, [_fixed(points)], False, _bgr(mark_rgb), 1,
                          cv2.LINE_AA, 4)


def _project(points: np.ndarray, cam_K: np.ndarray) -> np.ndarray:
    return project_points(points, cam_K)


def _add_forearm(painter: _Painter, joints: np.ndarray, frame: np.ndarray,
                 half_width: float) -> None:
    behind_depth = float(joints[:, 2].max()) + 0.01
    app, cam_K = painter.app, painter.cam_K
    ulnar, distal = frame[:, 0], frame[:, 1]
    wrist = joints[WRIST] - 0.01 * distal
    length = 0.28
    direction = -distal
    if direction[2] < 0:
        # Stop the arm before it reaches the lens.
        length = min(length, (wrist[2] - 0.06) / -direction[2])
    if length <= 0.02:
        return
    for start, stop, width_scale, rgb in (
            (0.0, min(0.07, length), 1.0, app.skin_rgb),
            (min(0.07, length), length, 1.25, app.sleeve_rgb)):
        if stop <= start:
            continue
        c1, c2 = wrist + start * direction, wrist + stop * direction
        w1 = half_width * (1 + 0.6 * start) * width_scale
        w2 = half_width * (1 + 0.6 * stop) * width_scale
        quad = np.stack([c1 - w1 * ulnar, c1 + w1 * ulnar, c2 + w2 * ulnar,
                         c2 - w2 * ulnar])
        normal = -(c1 + c2) / np.linalg.norm(c1 + c2)
        color = painter.shade(rgb, normal, float(quad[:, 2].mean()))
        # Under its own hand whatever its depth: from the wearer's eyes the
        # forearm never covers its own hand.
        painter.add(behind_depth, 'poly', _project(quad, cam_K), color,
                    color * 0.6)


def _add_palm(painter: _Painter, hands: HandPoses, i: int,
              outline: np.ndarray) -> None:
    app, cam_K = painter.app, painter.cam_K
    joints = hands.joints_m[i]
    dorsal = hands.palm_frame[i, :, 2]
    half = hands.shape.palm_thickness_mm[i] / 2000.0
    center = outline.mean(0)
    back_visible = float(dorsal @ center) < 0
    facing = dorsal if back_visible else -dorsal
    near = outline + half * facing
    far = outline - half * facing
    depth = float(center[2])
    base_rgb = app.skin_rgb if back_visible else app.palm_rgb
    face_rgb = painter.shade(base_rgb, facing, depth)
    walls = []
    for a in range(len(outline)):
        b = (a + 1) % len(outline)
        wall = np.stack([near[a], near[b], far[b], far[a]])
        edge = outline[b] - outline[a]
        normal = np.cross(edge, facing)
        normal /= max(np.linalg.norm(normal), 1e-9)
        if normal @ (outline[a] - center) < 0:
            normal = -normal
        walls.append((_project(wall, cam_K),
                      painter.shade(app.skin_rgb * 0.95, normal, depth)))
    marks = []
    ulnar = hands.palm_frame[i, :, 0]
    distal = hands.palm_frame[i, :, 1]
    if back_visible:
        # Knuckle creases across the MCPs.
        for f, finger in enumerate(FINGERS[1:], start=1):
            r = hands.shape.radii_mm[i, f, 0] / 1000.0
            mcp = joints[FINGER_JOINTS[finger][0]] + half * facing
            line = np.stack([mcp - 0.5 * r * ulnar - 0.3 * r * distal,
                             mcp - 0.5 * r * distal,
                             mcp + 0.5 * r * ulnar - 0.3 * r * distal])
            marks.append((_project(line, cam_K), face_rgb * 0.78))
    else:
        # Palm creases: distal and proximal transverse, thenar.
        mcps = joints[[FINGER_JOINTS[f][0] for f in FINGERS[1:]]]
        wrist = joints[WRIST]
        for share, span in ((0.72, (0, 4)), (0.55, (0, 3))):
            line = wrist + share * (mcps[span[0]:span[1]] - wrist)
            marks.append((_project(line + half * facing, cam_K),
                          face_rgb * 0.8))
        thumb_cmc = joints[FINGER_JOINTS['thumb'][0]]
        thenar = np.stack([wrist + 0.15 * (mcps[0] - wrist),
                           0.5 * (thumb_cmc + mcps[0]),
                           0.45 * mcps[0] + 0.55 * joints[
                               FINGER_JOINTS['thumb'][1]]])
        marks.append((_project(thenar + half * facing, cam_K),
                      face_rgb * 0.8))
    painter.add(depth, 'slab', walls, _project(near, cam_K), face_rgb,
                face_rgb * 0.6, marks)


def _add_fingers(painter: _Painter, hands: HandPoses, i: int) -> None:
    app, cam_K, focal = painter.app, painter.cam_K, painter.focal
    joints = hands.joints_m[i]
    for f, finger in enumerate(FINGERS):
        chain = FINGER_JOINTS[finger]
        segments = []
        for k in range(3):
            a, b = joints[chain[k]], joints[chain[k + 1]]
            frame = hands.segment_frames[i, f, k]
            lateral, axis, dorsal = frame[:, 0], frame[:, 1], frame[:, 2]
            radius = hands.shape.radii_mm[i, f, k] / 1000.0
            mid = 0.5 * (a + b)
            depth = float(mid[2])
            to_cam = -mid / np.linalg.norm(mid)
            normal = to_cam - (to_cam @ axis) * axis
            normal /= max(np.linalg.norm(normal), 1e-9)
            dorsal_visible = float(dorsal @ to_cam) > 0.15
            base = app.skin_rgb if dorsal_visible else 0.5 * (app.skin_rgb +
                                                              app.palm_rgb)
            rgb = painter.shade(base * FINGER_TINTS[f], normal, depth)
            light_side = app.light_dir - (app.light_dir @ axis) * axis
            ends = _project(np.stack([mid, mid + radius * light_side]), cam_K)
            marks = []
            if dorsal_visible and k > 0:
                # Crease over the joint at the segment's start.
                crease = a + 0.9 * radius * dorsal
                marks.append((_project(np.stack([
                    crease - 0.5 * radius * lateral,
                    crease + 0.5 * radius * lateral]), cam_K), rgb * 0.75))
            if dorsal_visible and k == 2:
                length = np.linalg.norm(b - a)
                center = b - 0.32 * length * axis + 0.75 * radius * dorsal
                theta = np.linspace(0, 2 * np.pi, 10, endpoint=False)
                nail = (center + np.outer(np.cos(theta), 0.28 * length * axis)
                        + np.outer(np.sin(theta), 0.6 * radius * lateral))
                marks.append((_project(nail, cam_K),
                              painter.shade(app.nail_rgb, normal, depth)))
            segments.append((_project(a, cam_K), _project(b, cam_K),
                             focal * radius / depth, rgb,
                             0.5 * (ends[1] - ends[0]), marks))
        depth = float(joints[list(chain[1:]), 2].mean())
        painter.add(depth, 'finger', segments)


def draw_hands(img: np.ndarray, hands: HandPoses, cam_K: np.ndarray,
               appearance: TakeAppearance) -> np.ndarray:
    """Draw hands into ``img`` (in place), far parts first.

    Args:
        img (np.ndarray): (H, W, 3) BGR uint8 image.
        hands (HandPoses): the hands of one frame (both sides together, so
            that they occlude each other correctly).
        cam_K (np.ndarray): (3, 3) intrinsics.
        appearance (TakeAppearance): the take's skin, light...

    Returns:
        np.ndarray: ``img``.
    """
    painter = _Painter(appearance, cam_K)
    outlines = palm_outline_m(hands)
    for i in range(len(hands)):
        _add_forearm(painter, hands.joints_m[i], hands.palm_frame[i],
                     hands.shape.wrist_half_width_mm[i] / 1000.0)
        _add_palm(painter, hands, i, outlines[i])
        _add_fingers(painter, hands, i)
    painter.draw(img)
    return img


def render_frame(rng: np.random.Generator, appearance: TakeAppearance,
                 hands: HandPoses, cam_K: np.ndarray,
                 head_rotation: np.ndarray, light_gain: float) -> np.ndarray:
    """One frame: moved background, hands, camera effects.

    Args:
        rng (np.random.Generator): per-frame random source (blur, noise).
        appearance (TakeAppearance): the take's look.
        hands (HandPoses): hands in view (possibly none).
        cam_K (np.ndarray): (3, 3) intrinsics.
        head_rotation (np.ndarray): (3, 3) camera rotation relative to the
            take's first frame: the far background moves by the homography
            ``K R K^-1``.
        light_gain (float): global brightness of this frame.

    Returns:
        np.ndarray: (H, W, 3) BGR uint8.
    """
    size = appearance.background.shape[0]
    homography = cam_K @ head_rotation @ np.linalg.inv(cam_K)
    img = cv2.warpPerspective(appearance.background, homography, (size, size),
                              flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    draw_hands(img, hands, cam_K, appearance)
    gain = appearance.color_gain * light_gain
    lut = np.clip(np.arange(256)[:, None] * gain[None], 0, 255).astype(
        np.uint8)
    img = cv2.LUT(img, lut.reshape(256, 1, 3))
    img = cv2.multiply(img, appearance.vignette, scale=1 / 255)
    sigma = rng.uniform(0, appearance.blur_sigma_px)
    if rng.random() < appearance.motion_blur_prob:
        length = int(rng.integers(3, 10))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0 / length
        rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2),
                                      float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    elif sigma > 0.4:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    oy, ox = rng.integers(0, NOISE_PAD, 2)
    noisy = img.astype(np.int16) + appearance.noise[oy:oy + size,
                                                    ox:ox + size]
    return np.clip(noisy, 0, 255).astype(np.uint8)


def encode_jpeg(rng: np.random.Generator, img: np.ndarray,
                appearance: TakeAppearance) -> bytes:
    """JPEG bytes at a quality drawn from the take's range."""
    quality = int(rng.integers(appearance.jpeg_quality[0],
                               appearance.jpeg_quality[1] + 1))
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return buf.tobytes()


__all__ = [
    'SCENARIOS', 'SKIN_TONES_RGB', 'TakeAppearance', 'make_background',
    'sample_appearance', 'draw_hands', 'render_frame', 'encode_jpeg'
]
