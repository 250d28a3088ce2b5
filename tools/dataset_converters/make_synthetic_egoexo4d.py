"""Generate a synthetic Ego-Exo4D hand-pose dataset in the official layout.

    python tools/dataset_converters/make_synthetic_egoexo4d.py \
        --out data/synthetic_egoexo4d --takes 40 --frames-per-take 60 \
        --seed 0 --workers 2

The output is byte-identical for the same arguments whatever ``--workers``.
See docs/synthetic.md for what is modelled and how it matches the real data.
"""
import argparse
import json

from hp3d.datasets.synthetic import generate_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a synthetic Ego-Exo4D hand-pose dataset '
        '(annotations, camera files, JPEG frames).')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--takes', type=int, default=40,
                        help='number of takes (split 70/15/15 %%)')
    parser.add_argument('--frames-per-take', type=int, default=60,
                        help='sampled frames per take')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=1,
                        help='worker processes (the output does not depend '
                        'on it)')
    parser.add_argument('--image-size', type=int, default=512,
                        help='image side in pixels (512: the real camera)')
    parser.add_argument('--no-images', action='store_true',
                        help='write annotations and camera files only')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bar')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    summary = generate_dataset(
        args.out, num_takes=args.takes, frames_per_take=args.frames_per_take,
        seed=args.seed, workers=args.workers, image_size=args.image_size,
        progress=not args.quiet, write_images=not args.no_images)
    print(f"{'split':<6} {'takes':>6} {'frames':>7} {'hands':>7} "
          f"{'right':>6} {'left':>6}")
    for split, counts in summary['splits'].items():
        print(f"{split:<6} {counts['takes']:>6} {counts['frames']:>7} "
              f"{counts['hands']:>7} {counts['right']:>6} {counts['left']:>6}")
    print(f"wrote {args.out} in {summary['seconds']:.1f} s")
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
