"""Build a component from a config dict, or take an already built one."""
from typing import Any

from mmengine.registry import Registry


def build_module(cfg: Any, registry: Registry) -> Any:
    """``registry.build(cfg)`` for a config dict; ``cfg`` itself otherwise.

    Components accept either, so tests can pass small objects directly.
    """
    return registry.build(cfg) if isinstance(cfg, dict) else cfg


__all__ = ['build_module']
