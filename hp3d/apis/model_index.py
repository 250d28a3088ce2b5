"""Model names -> config files and weights, through OpenMMLab metafiles.

``model-index.yml`` at the repository root lists metafiles (paths or glob
patterns, relative to the index's directory)::

    Import:
      - configs/**/metafile.yml

and each metafile lists models::

    Models:
      - Name: lifting_pose-transformer-d32l4_egoexo4d
        Config: configs/lifting/lifting_pose-transformer-....py
        Weights: https://.../model.pth      # or a path, or absent

``Config`` and relative ``Weights`` paths are relative to the index's
directory, as in every OpenMMLab repository.
"""
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import yaml

__all__ = [
    'REPO_ROOT', 'MODEL_INDEX_FILE', 'ModelEntry', 'load_model_index',
    'list_models', 'resolve_model'
]

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_INDEX_FILE = REPO_ROOT / 'model-index.yml'
# How many close names an unknown-model error suggests.
_NUM_SUGGESTIONS = 5


@dataclass(frozen=True)
class ModelEntry:
    """One model of a metafile.

    Args:
        name (str): ``Name`` as written in the metafile.
        config (Path): Absolute path of ``Config``.
        weights (str, optional): ``Weights``: a URL, or an absolute path for
            a local file; None when the metafile gives none.
        metafile (Path): The metafile that lists the model.
    """
    name: str
    config: Path
    weights: Optional[str]
    metafile: Path


def _read_yaml(path: Path) -> dict:
    with open(path, encoding='utf-8') as f:
        content = yaml.safe_load(f)
    if not isinstance(content, dict):
        raise ValueError(f'{path}: expected a YAML mapping, got '
                         f'{type(content).__name__}')
    return content


def _metafiles(index_file: Path) -> List[Path]:
    imports = _read_yaml(index_file).get('Import')
    if not isinstance(imports, list):
        raise ValueError(f'{index_file}: "Import" must be a list of metafile '
                         'paths or glob patterns')
    root = index_file.parent
    paths: List[Path] = []
    for pattern in imports:
        if any(c in str(pattern) for c in '*?['):
            paths.extend(sorted(root.glob(str(pattern))))
        elif (root / pattern).is_file():
            paths.append(root / pattern)
        else:
            raise FileNotFoundError(f'{index_file}: imported metafile '
                                    f'{pattern} does not exist')
    return list(dict.fromkeys(paths))


def _resolve_weights(weights: Optional[str], root: Path) -> Optional[str]:
    if weights is None or '://' in weights:
        return weights
    return str(root / weights)


def load_model_index(index_file: Union[str, Path] = MODEL_INDEX_FILE
                     ) -> Dict[str, ModelEntry]:
    """Read a model index and its metafiles.

    Args:
        index_file (str | Path): The ``model-index.yml``. Defaults to the
            repository's.

    Returns:
        dict[str, ModelEntry]: Entries by lower-cased name.

    Raises:
        FileNotFoundError: The index or an imported metafile is missing.
        ValueError: A file is malformed, or two models share a name.
    """
    index_file = Path(index_file)
    if not index_file.is_file():
        raise FileNotFoundError(f'Model index {index_file} not found')
    root = index_file.parent
    entries: Dict[str, ModelEntry] = {}
    for metafile in _metafiles(index_file):
        models = _read_yaml(metafile).get('Models', [])
        if not isinstance(models, list):
            raise ValueError(f'{metafile}: "Models" must be a list')
        for model in models:
            if not isinstance(model, dict) or not {'Name', 'Config'} <= set(
                    model):
                raise ValueError(f'{metafile}: every model needs "Name" and '
                                 f'"Config", got {model!r}')
            name = str(model['Name'])
            if name.lower() in entries:
                raise ValueError(
                    f'Model name {name!r} appears in both '
                    f'{entries[name.lower()].metafile} and {metafile}')
            weights = model.get('Weights')
            entries[name.lower()] = ModelEntry(
                name=name,
                config=root / model['Config'],
                weights=_resolve_weights(
                    None if weights is None else str(weights), root),
                metafile=metafile)
    return entries


def list_models(index_file: Union[str, Path] = MODEL_INDEX_FILE
                ) -> List[str]:
    """Names of every model in the index, sorted.

    Args:
        index_file (str | Path): The ``model-index.yml``.

    Returns:
        list[str]: Model names as the metafiles write them.
    """
    return sorted(e.name for e in load_model_index(index_file).values())


def _close_names(name: str, entries: Dict[str, ModelEntry]) -> List[str]:
    query = name.lower()
    close = difflib.get_close_matches(query, list(entries),
                                      n=_NUM_SUGGESTIONS, cutoff=0.4)
    close += [key for key in entries if query in key and key not in close]
    return [entries[key].name for key in close[:_NUM_SUGGESTIONS]]


def resolve_model(model: str,
                  index_file: Union[str, Path] = MODEL_INDEX_FILE
                  ) -> Tuple[Path, Optional[str]]:
    """A config path or a model-index name -> (config file, index weights).

    ``model`` is tried, in order, as a file path (relative to the working
    directory), as a path relative to the index's directory (the repository
    root: ``configs/potter_egoexo.py`` works from anywhere), then as a
    model name (case-insensitive).

    Args:
        model (str): Config path or model name.
        index_file (str | Path): The ``model-index.yml``. Defaults to the
            repository's.

    Returns:
        tuple[Path, str | None]: The config file, and the index's weights
        for a model name (None for a config path).

    Raises:
        FileNotFoundError: ``model`` looks like a config file (``.py``) but
            exists nowhere, or a listed config is missing.
        ValueError: ``model`` is no known name; the message lists close
            names.
    """
    index_file = Path(index_file)
    path = Path(model)
    for candidate in (path, index_file.parent / path):
        if candidate.is_file():
            return candidate.resolve(), None
    if path.suffix == '.py':
        raise FileNotFoundError(
            f'Config {model} not found in the working directory nor under '
            f'{index_file.parent}')
    if not index_file.is_file():
        raise ValueError(f'{model!r} is not a config file, and there is no '
                         f'model index ({index_file}) to look its name up')
    entries = load_model_index(index_file)
    entry = entries.get(model.lower())
    if entry is None:
        close = _close_names(model, entries)
        hint = (f'Close names: {", ".join(close)}.' if close else
                f'Known names: {", ".join(sorted(e.name for e in entries.values()))}.')
        raise ValueError(f'{model!r} is neither a config file nor a model '
                         f'name in {index_file}. {hint}')
    if not entry.config.is_file():
        raise FileNotFoundError(f'{entry.metafile}: config {entry.config} '
                                f'of model {entry.name!r} does not exist')
    return entry.config, entry.weights
