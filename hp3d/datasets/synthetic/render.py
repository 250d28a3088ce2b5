"""Rendering of synthetic egocentric frames with numpy + OpenCV.

A frame is a per-take procedural background (room, work surface, clutter)
that shifts with the head's rotation, the hands drawn as 3D bodies in
painter's order (far parts first), then camera effects (lighting,
vignetting, defocus or motion blur, sensor noise, JPEG). Hands are drawn so
that their pose can be read from the pixels:

- the palm is a slab (side walls, then the face turned to the camera), the
  fingers capsules whose width follows ``f * radius / depth``; every part is
  shaded by a directional light on its surface normal and darkened with
  depth, and outlined thinly in a darker tone so overlapping parts separate;
- the back of the hand shows nails and knuckle creases, the palm side is
  lighter and shows palm creases, so palm orientation and handedness are
  visible (a left hand is the mirror image of a right one);
- each finger carries a subtle tint of its own.

Images are BGR ``uint8`` (OpenCV's order), ``image_size`` squared.

Note:
    Shape symbols: ``H``, ``W`` image size, ``V`` palm outline vertices,
    ``S`` = 15 finger segments.
"""
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np

from ..metainfo import FINGER_JOINTS, FINGERS, WRIST
from .hand_pose import FINGER_SEGMENTS, HandPoses, palm_outline_m, project_points

SCENARIOS: Tuple[str, ...] = ('cooking', 'bike_repair', 'piano', 'guitar',
                              'violin', 'covid_test', 'cpr')
# Skin tones (RGB), light to dark.
SKIN_TONES_RGB = np.array([
    [241, 206, 180], [232, 190, 160], [224, 172, 140], [205, 150, 115],
    [184, 128, 94], [160, 106, 76], [132, 86, 60], [100, 66, 48],
], dtype=float)
# Per-finger tint (RGB multipliers): subtle, so fingers stay skin-coloured
# but can be told apart.
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
# Extra background border (px at 512) that head rotation can bring in view,
# and the noise tile's extra size for random offsets.
BACKGROUND_MARGIN_PX = 48
NOISE_PAD = 32
# Sub-pixel precision of the drawing calls (cv2 ``shift``).
_SHIFT = 4
_AA = cv2.LINE_AA


@dataclass
class TakeAppearance:
    """Everything that looks the same through one take.

    Attributes:
        skin_rgb (np.ndarray): (3,) skin colour (back of the hand).
        palm_rgb (np.ndarray): (3,) colour of the palm side.
        nail_rgb (np.ndarray): (3,) nail colour.
        sleeve_rgb (np.ndarray): (3,) sleeve colour.
        light_dir (np.ndarray): (3,) unit vector towards the light, camera
            frame.
        ambient (float): ambient share of the lighting.
        background (np.ndarray): (H + 2m, W + 2m, 3) BGR base background,
            ``m`` the margin head rotation can reveal.
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
    return (min(255.0, max(0.0, float(rgb[2]))),
            min(255.0, max(0.0, float(rgb[1]))),
            min(255.0, max(0.0, float(rgb[0]))))


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates as cv2 fixed point (``_SHIFT`` fractional bits)."""
    return np.round(np.asarray(points) * (1 << _SHIFT)).astype(np.int32)


def _muted_color(rng: np.random.Generator) -> np.ndarray:
    """A random everyday-object colour (RGB): mostly muted, some vivid."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0.1, 0.75) * 255,
                      rng.uniform(0.2, 0.95) * 255]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(
        float)


def _jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb, float) * rng.uniform(1 - amount,
                                                        1 + amount, 3), 0, 255)


def _draw_object(rng: np.random.Generator, img: np.ndarray,
                 center: np.ndarray, size: float, rgb: np.ndarray) -> None:
    """One clutter object with a darker rim and a light edge: a bowl or
    plate (ellipse), a box or board, an irregular item, a tool or a ring."""
    kind = int(rng.integers(5))
    color, rim, light = _bgr(rgb), _bgr(rgb * 0.6), _bgr(rgb * 1.2)
    angle = float(rng.uniform(0, 180))
    c = _fixed(center)
    if kind == 0:
        axes = (int(size * 16), int(size * rng.uniform(0.4, 1.0) * 16))
        cv2.ellipse(img, tuple(c), axes, angle, 0, 360, color, -1, _AA, _SHIFT)
        cv2.ellipse(img, tuple(c), axes, angle, 0, 360, rim, 2, _AA, _SHIFT)
        cv2.ellipse(img, tuple(c), (axes[0] * 7 // 10, axes[1] * 7 // 10),
                    angle, 200, 300, light, 1, _AA, _SHIFT)
    elif kind == 1:
        box = cv2.boxPoints(((float(center[0]), float(center[1])),
                             (size * rng.uniform(1, 2.5),
                              size * rng.uniform(0.5, 1.5)), angle))
        cv2.fillConvexPoly(img, _fixed(box), color, _AA, _SHIFT)
        cv2.polylines(img, [_fixed(box)], True, rim, 2, _AA, _SHIFT)
    elif kind == 2:
        n = int(rng.integers(4, 8))
        theta = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = size * rng.uniform(0.6, 1.1, n)
        poly = center + np.stack([radius * np.cos(theta),
                                  radius * np.sin(theta)], 1)
        cv2.fillPoly(img, [_fixed(poly)], color, _AA, _SHIFT)
        cv2.polylines(img, [_fixed(poly)], True, rim, 1, _AA, _SHIFT)
    elif kind == 3:
        d = size * 1.5 * np.array([np.cos(np.deg2rad(angle)),
                                   np.sin(np.deg2rad(angle))])
        p1, p2 = tuple(_fixed(center - d)), tuple(_fixed(center + d))
        width = int(max(2, size * rng.uniform(0.1, 0.35)))
        cv2.line(img, p1, p2, rim, width + 2, _AA, _SHIFT)
        cv2.line(img, p1, p2, color, width, _AA, _SHIFT)
    else:
        cv2.circle(img, tuple(c), int(size * 16), rim,
                   int(max(2, size * 0.25)), _AA, _SHIFT)
        cv2.circle(img, tuple(c), int(size * 0.2 * 16), color, -1, _AA,
                   _SHIFT)


def _draw_scenario_pattern(rng: np.random.Generator, img: np.ndarray,
                           scenario: str, surface_rgb: np.ndarray) -> None:
    """Scenario structure on the work surface: keys, strings, a wheel."""
    size = img.shape[0]
    if scenario == 'piano':
        x0 = int(rng.uniform(0.45, 0.65) * size)
        for y in np.arange(rng.uniform(0, 20), size, size / 22):
            cv2.rectangle(img, (x0, int(y)), (size, int(y + size / 24)),
                          (235, 235, 235), -1)
            if rng.random() < 0.7:
                cv2.rectangle(img, (x0, int(y + size / 30)),
                              (int(x0 + size * 0.12), int(y + size / 18)),
                              (25, 25, 25), -1)
    elif scenario in ('guitar', 'violin'):
        center = (int(rng.uniform(0.6, 0.9) * size),
                  int(rng.uniform(0.3, 0.7) * size))
        cv2.ellipse(img, center, (int(size * 0.25), int(size * 0.18)),
                    float(rng.uniform(0, 180)), 0, 360,
                    _bgr(surface_rgb * 1.2), -1, _AA)
        for k in range(6):
            y = center[1] - 20 + 8 * k
            cv2.line(img, (0, y), (size, y + int(rng.uniform(-40, 40))),
                     (200, 200, 190), 1, _AA)
    elif scenario == 'bike_repair':
        center = (int(rng.uniform(0.5, 1.0) * size),
                  int(rng.uniform(0.0, 1.0) * size))
        radius = int(size * rng.uniform(0.25, 0.4))
        cv2.circle(img, center, radius, (30, 30, 30), 14, _AA)
        for a in np.linspace(0, np.pi, 12, endpoint=False):
            d = radius * np.array([np.cos(a), np.sin(a)])
            cv2.line(img, (int(center[0] - d[0]), int(center[1] - d[1])),
                     (int(center[0] + d[0]), int(center[1] + d[1])),
                     (160, 160, 165), 1, _AA)


def make_background(rng: np.random.Generator, size: int,
                    scenario: str) -> np.ndarray:
    """A take's base background, (size, size, 3) BGR uint8.

    In the native Aria view the world's "down" is the image's +u side: the
    work surface fills the right part of the frame, the room the left part.
    Low-frequency colour and shading fields, a grain texture, scenario
    structure and 10-25 clutter objects, mostly on the surface.
    """
    surface, room = (np.asarray(c, float) for c in SCENARIO_PALETTES[scenario])
    room_rgb = _jitter(rng, room[rng.integers(len(room))], 0.1)
    grid = rng.uniform(0.75, 1.1, (4, 4, 1)) * room_rgb[::-1]
    img = cv2.resize(grid.astype(np.float32), (size, size),
                     interpolation=cv2.INTER_CUBIC)
    edge = rng.uniform(0.15, 0.45) * size + np.linspace(
        0, 1, size) * rng.uniform(-0.25, 0.25) * size
    table = (np.arange(size)[None, :] > edge[:, None]).astype(np.float32)
    table = cv2.GaussianBlur(table, (0, 0), 2.0)[..., None]
    surface_rgb = _jitter(rng, surface[rng.integers(len(surface))], 0.12)
    grain = (np.sin(np.arange(size) * rng.uniform(0.05, 0.3)
                    + rng.uniform(0, 6))[None, :] * rng.uniform(0, 0.08))
    shade = cv2.resize(rng.uniform(0.8, 1.1, (6, 6)).astype(np.float32),
                       (size, size), interpolation=cv2.INTER_CUBIC)
    surface_img = surface_rgb[::-1].astype(np.float32) * (
        shade + grain.astype(np.float32))[..., None]
    img = img * (1 - table) + surface_img * table
    texture = cv2.resize(rng.standard_normal(
        (size // 4, size // 4)).astype(np.float32), (size, size),
        interpolation=cv2.INTER_LINEAR)
    img = np.clip(img * (1 + 0.05 * texture[..., None]), 0, 255).astype(
        np.uint8)
    _draw_scenario_pattern(rng, img, scenario, surface_rgb)
    for _ in range(int(rng.integers(10, 26))):
        on_table = rng.random() < 0.7
        u = rng.uniform(edge.mean() if on_table else 0,
                        size if on_table else edge.mean())
        rgb = (_jitter(rng, surface[rng.integers(len(surface))], 0.4)
               if rng.random() < 0.4 else _muted_color(rng))
        _draw_object(rng, img, np.array([u, rng.uniform(0, size)]),
                     rng.uniform(0.03, 0.13) * size, rgb)
    return cv2.GaussianBlur(img, (0, 0), 0.7)


def sample_appearance(rng: np.random.Generator, image_size: int,
                      scenario: str) -> TakeAppearance:
    """Skin, clothing, light, background and camera quality of a take.

    Args:
        rng (np.random.Generator): random source.
        image_size (int): image side (px).
        scenario (str): one of :data:`SCENARIOS`.

    Returns:
        TakeAppearance: the take's look.
    """
    if scenario not in SCENARIO_PALETTES:
        raise ValueError(f'unknown scenario {scenario!r}, expected one of '
                         f'{SCENARIOS}')
    skin = _jitter(rng, SKIN_TONES_RGB[rng.integers(len(SKIN_TONES_RGB))],
                   0.06)
    # Palms are lighter and pinker than the back of the hand.
    palm = skin + (np.array([235, 190, 170]) - skin) * rng.uniform(0.3, 0.5)
    nail = skin + (np.array([245, 218, 212]) - skin) * rng.uniform(0.5, 0.7)
    # Light from above (world up is the image's -u in the native view) and
    # from behind the wearer, randomised.
    light = np.array([-rng.uniform(0.3, 1.0), rng.uniform(-0.6, 0.6),
                      -rng.uniform(0.2, 0.9)])
    margin = int(round(BACKGROUND_MARGIN_PX * image_size / 512))
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    half = image_size / 2
    r2 = ((xx - half)**2 + (yy - half)**2) / half**2
    vignette = np.clip(1 - rng.uniform(0.1, 0.35) * r2 / 2, 0, 1) * 255
    noise = rng.normal(0, rng.uniform(1.5, 5.0),
                       (image_size + NOISE_PAD, image_size + NOISE_PAD, 3))
    return TakeAppearance(
        skin_rgb=skin, palm_rgb=palm, nail_rgb=nail,
        sleeve_rgb=_muted_color(rng), light_dir=light / np.linalg.norm(light),
        ambient=float(rng.uniform(0.35, 0.6)),
        background=make_background(rng, image_size + 2 * margin, scenario),
        vignette=np.repeat(vignette[..., None], 3, 2).astype(np.uint8),
        noise=np.round(noise).astype(np.int16),
        color_gain=rng.uniform(0.9, 1.1, 3),
        jpeg_quality=(int(rng.integers(55, 80)), int(rng.integers(85, 96))),
        blur_sigma_px=float(rng.uniform(0.3, 1.4)),
        motion_blur_prob=float(rng.uniform(0.0, 0.3)))


# Hand parts ---------------------------------------------------------------
# A part is (depth, draw function, its arguments); parts are drawn far to
# near.
Part = Tuple[float, Callable, tuple]


def _shade(app: TakeAppearance, rgb: np.ndarray, normal: np.ndarray,
           depth: np.ndarray) -> np.ndarray:
    """(n, 3) Lambert-shaded colours with ambient light, darker with depth.

    Args:
        app (TakeAppearance): light direction and ambient share.
        rgb (np.ndarray): (n, 3) or (3,) base colours.
        normal (np.ndarray): (n, 3) unit surface normals.
        depth (np.ndarray): (n,) depths (m).
    """
    lambert = np.maximum(normal @ app.light_dir, 0.0)
    light = app.ambient + (1 - app.ambient) * lambert
    fade = np.clip(1.2 - 0.8 * depth, 0.7, 1.12)
    return np.clip(rgb * (1.15 * light * fade)[:, None], 0, 255)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _draw_poly(img: np.ndarray, points_px: np.ndarray, rgb: np.ndarray,
               outline_rgb: np.ndarray) -> None:
    pts = _fixed(points_px)
    cv2.fillPoly(img, [pts], _bgr(rgb), _AA, _SHIFT)
    cv2.polylines(img, [pts], True, _bgr(outline_rgb), 1, _AA, _SHIFT)


def _draw_slab(img: np.ndarray, walls: List[Tuple[np.ndarray, np.ndarray]],
               rim_px: np.ndarray, rim_width: int, face_px: np.ndarray,
               face_rgb: np.ndarray,
               marks: List[Tuple[np.ndarray, np.ndarray]]) -> None:
    """The palm: side walls, a rounded rim along its outline (thick line
    with round joins), the face, creases."""
    for wall_px, wall_rgb in walls:
        cv2.fillConvexPoly(img, _fixed(wall_px), _bgr(wall_rgb), _AA, _SHIFT)
    if rim_width > 1:
        cv2.polylines(img, [_fixed(rim_px)], True, _bgr(face_rgb * 0.82),
                      rim_width, _AA, _SHIFT)
    _draw_poly(img, face_px, face_rgb, face_rgb * 0.75)
    for points, mark_rgb in marks:
        cv2.polylines(img, [_fixed(points)], False, _bgr(mark_rgb), 1, _AA,
                      _SHIFT)


def _draw_finger(img: np.ndarray, ends_px: np.ndarray, widths: List[int],
                 rgbs: np.ndarray, highlights_px: np.ndarray,
                 marks: List[Tuple[np.ndarray, np.ndarray]]) -> None:
    """A finger: outlines of its segments, then fills, highlights, marks.

    Outlining the whole finger first keeps it one continuous body while the
    segments keep their own shading and creases.
    """
    ends = _fixed(ends_px)
    shifts = _fixed(highlights_px)
    for k, width in enumerate(widths):
        cv2.line(img, tuple(ends[k]), tuple(ends[k + 1]), _bgr(rgbs[k] * 0.6),
                 width + 2, _AA, _SHIFT)
    for k, width in enumerate(widths):
        cv2.line(img, tuple(ends[k]), tuple(ends[k + 1]), _bgr(rgbs[k]), width,
                 _AA, _SHIFT)
    for k, width in enumerate(widths):
        if width >= 6:
            cv2.line(img, tuple(ends[k] + shifts[k]),
                     tuple(ends[k + 1] + shifts[k]), _bgr(rgbs[k] * 1.1),
                     max(1, width // 4), _AA, _SHIFT)
    for points, rgb in marks:
        pts = _fixed(points)
        if len(pts) == 2:
            cv2.line(img, tuple(pts[0]), tuple(pts[1]), _bgr(rgb), 1, _AA,
                     _SHIFT)
        else:
            cv2.fillConvexPoly(img, pts, _bgr(rgb), _AA, _SHIFT)
            cv2.polylines(img, [pts], True, _bgr(rgb * 0.8), 1, _AA, _SHIFT)


def _forearm_parts(app: TakeAppearance, hands: HandPoses, i: int,
                   cam_K: np.ndarray) -> List[Part]:
    """Skin then sleeve, from the wrist back towards the elbow."""
    joints = hands.joints_m[i]
    ulnar, distal = hands.palm_frame[i, :, 0], hands.palm_frame[i, :, 1]
    half_width = hands.shape.wrist_half_width_mm[i] / 1000.0
    wrist = joints[WRIST] - 0.01 * distal
    direction = -distal
    length = 0.28
    if direction[2] < 0:
        # Stop the arm before it reaches the lens.
        length = min(length, (wrist[2] - 0.06) / -direction[2])
    cuff = min(0.07, length)
    # From the wearer's eyes a forearm never covers its own hand: draw it
    # under the hand whatever its depth.
    behind = float(joints[:, 2].max()) + 0.01
    parts = []
    for start, stop, widen, rgb in ((0.0, cuff, 1.0, app.skin_rgb),
                                    (cuff, length, 1.25, app.sleeve_rgb)):
        if stop - start < 0.005:
            continue
        c1, c2 = wrist + start * direction, wrist + stop * direction
        w1 = half_width * (1 + 0.6 * start) * widen
        w2 = half_width * (1 + 0.6 * stop) * widen
        quad = np.stack([c1 - w1 * ulnar, c1 + w1 * ulnar, c2 + w2 * ulnar,
                         c2 - w2 * ulnar])
        color = _shade(app, rgb, _unit(-(c1 + c2))[None],
                       quad[:, 2].mean(keepdims=True))[0]
        parts.append((behind, _draw_poly,
                      (project_points(quad, cam_K), color, color * 0.6)))
    return parts


def _palm_part(app: TakeAppearance, hands: HandPoses, i: int,
               outline: np.ndarray, cam_K: np.ndarray) -> Part:
    """The palm slab: walls facing the camera, rim, the visible face."""
    joints = hands.joints_m[i]
    ulnar, distal, dorsal = hands.palm_frame[i].T
    half = hands.shape.palm_thickness_mm[i] / 2000.0
    center = outline.mean(0)
    back_visible = float(dorsal @ center) < 0
    facing = dorsal if back_visible else -dorsal
    near, far = outline + half * facing, outline - half * facing
    depth = np.array([center[2]])
    face_rgb = _shade(app, app.skin_rgb if back_visible else app.palm_rgb,
                      facing[None], depth)[0]
    edges = np.roll(outline, -1, axis=0) - outline
    normals = _unit(np.cross(edges, facing))
    outward = np.sum(normals * (outline - center), -1) > 0
    normals = np.where(outward[:, None], normals, -normals)
    mids = outline + 0.5 * edges
    seen = np.sum(normals * -mids, -1) > 0
    # Walls between the faces' colour and their own shading: the edge of a
    # palm is rounded, not a box.
    wall_rgb = 0.5 * face_rgb + 0.5 * _shade(
        app, app.skin_rgb * 0.9, normals, np.full(len(normals), depth[0]))
    near_px, far_px = project_points(near, cam_K), project_points(far, cam_K)
    rim_width = int(round(cam_K[0, 0] * half / depth[0]))
    walls = [(np.stack([near_px[a], near_px[(a + 1) % len(near)],
                        far_px[(a + 1) % len(near)], far_px[a]]), wall_rgb[a])
             for a in np.flatnonzero(seen)]
    marks = []
    mcps = joints[[FINGER_JOINTS[f][0] for f in FINGERS[1:]]]
    if back_visible:
        # Knuckle creases over the MCPs.
        r = hands.shape.radii_mm[i, 1:, 0, None, None] / 1000.0
        offsets = np.array([[-0.5, -0.3, 0.0], [0.0, -0.5, 0.0],
                            [0.5, -0.3, 0.0]])
        knuckles = (mcps[:, None] + half * facing + r * (
            offsets[:, :1] * ulnar + offsets[:, 1:2] * distal))
        for line in project_points(knuckles, cam_K):
            marks.append((line, face_rgb * 0.78))
    else:
        # Palm creases: distal and proximal transverse, thenar.
        wrist = joints[WRIST]
        thumb_cmc, thumb_mcp = joints[list(FINGER_JOINTS['thumb'][:2])]
        lines = [wrist + 0.72 * (mcps - wrist),
                 wrist + 0.55 * (mcps[:3] - wrist),
                 np.stack([wrist + 0.15 * (mcps[0] - wrist),
                           0.5 * (thumb_cmc + mcps[0]),
                           0.45 * mcps[0] + 0.55 * thumb_mcp])]
        marks = [(project_points(line + half * facing, cam_K), face_rgb * 0.8)
                 for line in lines]
    return (float(center[2]), _draw_slab,
            (walls, project_points(outline, cam_K), rim_width, near_px,
             face_rgb, marks))


_SEG = np.array(FINGER_SEGMENTS)


def _finger_parts(app: TakeAppearance, hands: HandPoses, i: int,
                  cam_K: np.ndarray) -> List[Part]:
    """One part per finger, its three segments shaded separately."""
    joints = hands.joints_m[i]
    start, end = joints[_SEG[:, 0]], joints[_SEG[:, 1]]
    frames = hands.segment_frames[i].reshape(15, 3, 3)
    lateral, axis, dorsal = frames[..., 0], frames[..., 1], frames[..., 2]
    radius = hands.shape.radii_mm[i].reshape(15) / 1000.0
    mid = 0.5 * (start + end)
    depth = mid[:, 2]
    to_cam = _unit(-mid)
    normal = _unit(to_cam - np.sum(to_cam * axis, -1, keepdims=True) * axis)
    dorsal_visible = np.sum(dorsal * to_cam, -1) > 0.15
    base = np.where(dorsal_visible[:, None], app.skin_rgb,
                    0.5 * (app.skin_rgb + app.palm_rgb))
    rgb = _shade(app, base * np.repeat(FINGER_TINTS, 3, 0), normal, depth)
    nail_rgb = _shade(app, app.nail_rgb, normal, depth)
    light_side = app.light_dir - (axis @ app.light_dir)[:, None] * axis
    highlight = 0.5 * (project_points(mid + radius[:, None] * light_side, cam_K)
                       - project_points(mid, cam_K))
    width_px = np.maximum(1, np.round(2 * cam_K[0, 0] * radius / depth))
    # Crease across the joint where a segment starts (PIP, DIP, thumb IP).
    crease_c = start + 0.9 * radius[:, None] * dorsal
    crease = np.stack([crease_c - 0.5 * radius[:, None] * lateral,
                       crease_c + 0.5 * radius[:, None] * lateral], 1)
    crease_px = project_points(crease, cam_K)
    length = np.linalg.norm(end - start, axis=-1, keepdims=True)
    nail_c = end - 0.32 * length * axis + 0.75 * radius[:, None] * dorsal
    theta = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    nails = (nail_c[:, None] + np.cos(theta)[None, :, None] * (
        0.28 * length * axis)[:, None] + np.sin(theta)[None, :, None] * (
            0.6 * radius[:, None] * lateral)[:, None])
    nails_px = project_points(nails, cam_K)
    joints_px = project_points(joints, cam_K)
    parts = []
    for f, finger in enumerate(FINGERS):
        chain = list(FINGER_JOINTS[finger])
        segs = range(3 * f, 3 * f + 3)
        marks = []
        for k, s in enumerate(segs):
            if dorsal_visible[s] and k > 0:
                marks.append((crease_px[s], rgb[s] * 0.75))
            if dorsal_visible[s] and k == 2:
                marks.append((nails_px[s], nail_rgb[s]))
        parts.append((float(depth[list(segs)].mean()), _draw_finger, (
            joints_px[chain], [int(w) for w in width_px[list(segs)]],
            rgb[list(segs)], highlight[list(segs)], marks)))
    return parts


def draw_hands(img: np.ndarray, hands: Optional[HandPoses], cam_K: np.ndarray,
               appearance: TakeAppearance) -> np.ndarray:
    """Draw hands into ``img`` (in place), far parts first.

    Args:
        img (np.ndarray): (H, W, 3) BGR uint8 image.
        hands (HandPoses, optional): the hands of one frame (both sides
            together, so that they occlude each other); None: no hand.
        cam_K (np.ndarray): (3, 3) intrinsics.
        appearance (TakeAppearance): the take's skin, light...

    Returns:
        np.ndarray: ``img``.
    """
    if hands is None or not len(hands):
        return img
    outlines = palm_outline_m(hands)
    parts: List[Part] = []
    for i in range(len(hands)):
        parts += _forearm_parts(appearance, hands, i, cam_K)
        parts.append(_palm_part(appearance, hands, i, outlines[i], cam_K))
        parts += _finger_parts(appearance, hands, i, cam_K)
    order = sorted(range(len(parts)), key=lambda p: (-parts[p][0], p))
    for p in order:
        _, draw, args = parts[p]
        draw(img, *args)
    return img


def render_frame(rng: np.random.Generator, appearance: TakeAppearance,
                 hands: Optional[HandPoses], cam_K: np.ndarray,
                 head_rotation: np.ndarray, light_gain: float) -> np.ndarray:
    """One frame: shifted background, hands, camera effects.

    Args:
        rng (np.random.Generator): per-frame random source (blur, noise).
        appearance (TakeAppearance): the take's look.
        hands (HandPoses, optional): hands in view (None: no hand).
        cam_K (np.ndarray): (3, 3) intrinsics.
        head_rotation (np.ndarray): (3, 3) camera rotation relative to the
            take's first frame; the far background shifts by where it maps
            the image centre (within the background's margin).
        light_gain (float): global brightness of this frame.

    Returns:
        np.ndarray: (H, W, 3) BGR uint8.
    """
    size = appearance.vignette.shape[0]
    margin = (appearance.background.shape[0] - size) // 2
    center = head_rotation @ np.array([0.0, 0.0, 1.0])
    shift = cam_K[0, 0] * center[:2] / max(center[2], 1e-6)
    ox, oy = np.clip(np.round(margin + shift), 0, 2 * margin).astype(int)
    img = appearance.background[oy:oy + size, ox:ox + size].copy()
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
        kernel[length // 2] = 1.0
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
