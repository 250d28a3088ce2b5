"""Clearer errors for config mistakes: unknown ``type`` names get suggestions,
misspelt top-level keys a warning.

mmengine's ``KeyError`` for an unknown type names the registry only; a typo
in a 130-line config then costs a search. :func:`explain_unknown_type` adds
the closest names registered in that registry (its scope and its parents).
"""
import difflib
import re
from contextlib import contextmanager
from typing import Dict, Iterable, Iterator, List, Optional

from mmengine.registry import Registry

import hp3d.registry as hp3d_registry

# mmengine: "{type} is not in the {scope}::{registry name} registry. ..."
_UNKNOWN_TYPE = re.compile(r'(\S+) is not in the (\S+)::(.+?) registry')
NUM_SUGGESTIONS = 5


def registered_names(registry: Registry) -> List[str]:
    """Names a registry resolves: its own and its ancestors'."""
    names: List[str] = []
    while registry is not None:
        registry.import_from_location()  # registries fill lazily
        names.extend(registry.module_dict)
        registry = registry.parent
    return sorted(set(names))


def _registry_named(name: str) -> Optional[Registry]:
    for value in vars(hp3d_registry).values():
        if (isinstance(value, Registry) and value.scope == 'hp3d'
                and value.name == name):
            return value
    return None


def explain_unknown_type(error: KeyError) -> KeyError:
    """``error`` with the closest registered names, if it is mmengine's
    unknown-type error; ``error`` itself otherwise.

    Args:
        error (KeyError): raised while building from a config.

    Returns:
        KeyError: a new error naming the registry and the closest names.
    """
    message = str(error.args[0]) if error.args else ''
    match = _UNKNOWN_TYPE.search(message)
    registry = match and _registry_named(match.group(3))
    if registry is None:
        return error
    unknown = match.group(1)
    close = difflib.get_close_matches(unknown, registered_names(registry),
                                      n=NUM_SUGGESTIONS, cutoff=0.5)
    hint = (f'closest registered names: {", ".join(close)}.' if close else
            'no registered name is close; is the module that registers it '
            "in the config's custom_imports?")
    return KeyError(f'Unknown type {unknown!r} in the {match.group(2)}::'
                    f'{match.group(3)} registry: {hint}')


@contextmanager
def unknown_types_explained() -> Iterator[None]:
    """Re-raise mmengine's unknown-type ``KeyError`` with the closest names.

    Any other ``KeyError`` propagates unchanged. The tools wrap building and
    running the Runner in it (types are also built lazily inside ``train``).
    """
    try:
        yield
    except KeyError as error:
        explained = explain_unknown_type(error)
        if explained is error:
            raise
        raise explained from error


def near_misses(keys: Iterable[str], known: Iterable[str],
                cutoff: float = 0.85) -> Dict[str, str]:
    """Keys that are not ``known`` but spelt almost like one of them.

    A config's top level also holds its own variables (``codec``,
    ``train_pipeline``...), so unknown keys are fine; ``load_form`` or
    ``param_schedulers`` are typos that mmengine would ignore silently.

    Returns:
        dict: Each near-miss key and the known key it resembles.
    """
    known = list(known)
    misses = {}
    for key in keys:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=cutoff)
        if close:
            misses[key] = close[0]
    return misses


__all__ = ['explain_unknown_type', 'registered_names',
           'unknown_types_explained', 'near_misses']
