"""Print a config as the tools see it: ``_base_`` files and --cfg-options
merged, one self-contained Python config.

Example::

    python tools/analysis_tools/print_config.py configs/potter_egoexo.py \\
        --cfg-options train_dataloader.batch_size=32 --out work_dirs/potter.py
"""
import argparse
from typing import Optional, Sequence

from mmengine.config import Config, DictAction


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings, as for tools/train.py: key=value pairs '
        'with dotted keys')
    parser.add_argument('--out', help='also write the merged config here')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(cfg.pretty_text)
    if args.out:
        cfg.dump(args.out)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
