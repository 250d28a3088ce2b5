"""Make the toy components (engine_toys.py) importable from every test here."""
import os.path as osp
import sys

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
