"""Figure of generated frames with their 2D skeletons (docs/synthetic_frames.png).

    python tools/dataset_converters/plot_synthetic_frames.py \
        data/synthetic_egoexo4d --out docs/synthetic_frames.png

Each frame is shown whole with its annotated 2D skeletons and boxes, then
zoomed on its hands as written and annotated; frames are spread over the
split's takes.
"""
import argparse
import json
import os.path as osp

import cv2
import numpy as np

from hp3d.datasets.metainfo import HANDS
from hp3d.datasets.synthetic.generate import ANNOTATION_DIR, GT_FILE
from hp3d.visualization import draw_skeleton_2d

# Box colours (BGR) per hand side.
BOX_BGR = dict(right=(60, 60, 230), left=(230, 160, 40))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Grid of synthetic frames '
                                     'with their 2D skeletons.')
    parser.add_argument('data_root', help='dataset root (has annotations/)')
    parser.add_argument('--split', default='train')
    parser.add_argument('--num', type=int, default=6, help='frames to show')
    parser.add_argument('--cols', type=int, default=2,
                        help='frames per row (each as a raw/annotated pair)')
    parser.add_argument('--panel', type=int, default=256,
                        help='side of each panel in pixels')
    parser.add_argument('--out', default='docs/synthetic_frames.png')
    return parser.parse_args()


def annotate(image: np.ndarray, frame: dict) -> np.ndarray:
    """The frame's boxes and skeletons drawn on a copy of ``image``."""
    out = image
    for hand in HANDS:
        if not frame[f'{hand}_hand_2d']:
            continue
        box = np.round(frame[f'{hand}_hand_bbox']).astype(int)
        out = draw_skeleton_2d(out, np.array(frame[f'{hand}_hand_2d'], float),
                               np.array(frame[f'{hand}_hand_valid_3d']))
        cv2.rectangle(out, tuple(box[:2]), tuple(box[2:]), BOX_BGR[hand], 1,
                      cv2.LINE_AA)
        cv2.putText(out, hand[0].upper(), (int(box[0]) + 3, int(box[1]) + 14),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_BGR[hand], 1,
                    cv2.LINE_AA)
    return out


def hands_window(frame: dict, size: int) -> tuple:
    """A square window (x1, y1, x2, y2) around the frame's hand boxes."""
    boxes = np.array([frame[f'{hand}_hand_bbox'] for hand in HANDS
                      if frame[f'{hand}_hand_bbox']])
    lo, hi = boxes[:, :2].min(0), boxes[:, 2:].max(0)
    side = int(min(size, max(96, (hi - lo).max() * 1.2)))
    center = (lo + hi) / 2
    x1, y1 = np.clip(np.round(center - side / 2), 0, size - side).astype(int)
    return x1, y1, x1 + side, y1 + side


def main() -> None:
    args = parse_args()
    ann_file = osp.join(args.data_root, ANNOTATION_DIR,
                        GT_FILE.format(split=args.split))
    with open(ann_file) as f:
        takes = list(json.load(f).values())
    if not takes:
        raise SystemExit(f'{ann_file}: no takes')
    tiles = []
    for i in range(args.num):
        frames = list(takes[i * len(takes) // args.num].values())
        frame = frames[(i * 7) % len(frames)]
        meta = frame['metadata']
        path = osp.join(args.data_root, 'images', args.split,
                        meta['take_name'], f"{meta['frame_number']:06d}.jpg")
        image = cv2.imread(path)
        if image is None:
            raise SystemExit(f'cannot read {path}')
        annotated = annotate(image, frame)
        x1, y1, x2, y2 = hands_window(frame, image.shape[0])
        panels = [annotated, image[y1:y2, x1:x2], annotated[y1:y2, x1:x2]]
        panels = [cv2.resize(p, (args.panel, args.panel),
                             interpolation=cv2.INTER_AREA) for p in panels]
        cv2.putText(panels[0], f"{meta['take_name']} #{meta['frame_number']}",
                    (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255),
                    1, cv2.LINE_AA)
        tiles.append(np.concatenate(panels, axis=1))
    while len(tiles) % args.cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r:r + args.cols], axis=1)
            for r in range(0, len(tiles), args.cols)]
    cv2.imwrite(args.out, np.concatenate(rows, axis=0),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
