"""hp3d's Runner: mmengine's, with crash-safe checkpoints and CPU DDP."""
import inspect
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Set, Union

import torch
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import is_distributed, master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, Runner
from mmengine.runner.checkpoint import find_latest_checkpoint
from torch.nn.parallel import DistributedDataParallel

from hp3d.engine.codec_check import (
    check_checkpoint_codec,
    check_codecs,
    codec_record,
)
from hp3d.engine.config_errors import near_misses
from hp3d.engine.data_check import check_dataset
from hp3d.engine.dist import CPU_BACKEND, init_cpu_dist
from hp3d.engine.hooks import AtomicCheckpointHook, MainProcessLoggerHook
from hp3d.engine.loops import ResumableEpochBasedTrainLoop
from hp3d.registry import MODEL_WRAPPERS, RUNNERS
from hp3d.utils.atomic_io import TMP_SUFFIX, replace_atomically

# mmengine's default: checkpoints of DDP-wrapped models
MMENGINE_REVISE_KEYS = ((r'^module.', ''), )

__all__ = ['Hp3dRunner']

# mmengine's run timestamps (to the second) taken in this process
_TIMESTAMPS: Set[str] = set()


class _TextCachedConfig(Config):
    """A ``Config`` that formats its text once per content.

    mmengine embeds ``cfg.pretty_text`` in every checkpoint, and formatting it
    with yapf takes ~50 ms: with a checkpoint or two per epoch, ~2 % of a
    compiled 30-epoch lifting run. The text is formatted again when the config's
    content changes.
    """

    @classmethod
    def of(cls, cfg: Config) -> '_TextCachedConfig':
        """The same config (content shared, not copied) with the cache."""
        cached = cls.__new__(cls)
        cached.__dict__.update(cfg.__dict__)
        return cached

    @property
    def pretty_text(self) -> str:
        content = repr(self.to_dict())
        cache = self.__dict__.get('_pretty_text_cache')
        if cache is None or cache[0] != content:
            cache = (content, super().pretty_text)
            # Config.__setattr__ would store it as a config key
            object.__setattr__(self, '_pretty_text_cache', cache)
        return cache[1]


def _mismatch(model: torch.nn.Module, checkpoint: dict,
              revise_keys: Sequence) -> str:
    """How ``checkpoint``'s weights differ from ``model``'s, worded as
    mmengine's strict loading; '' when they fit."""
    model = model.module if is_model_wrapper(model) else model
    weights = checkpoint.get('state_dict', checkpoint)
    for pattern, replacement in revise_keys:
        weights = {re.sub(pattern, replacement, key): value
                   for key, value in weights.items()}
    expected = model.state_dict()
    lines = []
    unexpected = [key for key in weights if key not in expected]
    missing = [key for key in expected if key not in weights
               and 'num_batches_tracked' not in key]
    shapes = [f'{key}: {tuple(weights[key].shape)} in the checkpoint, '
              f'{tuple(value.shape)} in the model'
              for key, value in expected.items()
              if key in weights and hasattr(weights[key], 'shape')
              and tuple(weights[key].shape) != tuple(value.shape)]
    if unexpected:
        lines.append('unexpected key in source state_dict: '
                     + ', '.join(unexpected))
    if missing:
        lines.append('missing keys in source state_dict: '
                     + ', '.join(missing))
    if shapes:
        lines.append('size mismatch for ' + '; '.join(shapes))
    if not lines:
        return ''
    return '\n'.join(['The model and loaded state dict do not match '
                      'exactly'] + lines)


@RUNNERS.register_module()
class Hp3dRunner(Runner):
    """mmengine's ``Runner`` with the guarantees of docs/reliability.md.

    Selected by ``runner_type = 'Hp3dRunner'`` (``configs/_base_/
    default_runtime.py``); the tools build it when a config names no runner.
    Arguments are those of ``Runner``. Differences:

    - Checkpoints are written to ``<name>.tmp``, synced and renamed, so a
      checkpoint file is always complete (local paths; object stores publish
      a put atomically already).
    - The default checkpoint hook is :class:`AtomicCheckpointHook`, the
      default logger hook :class:`MainProcessLoggerHook`.
    - ``train_cfg=dict(by_epoch=True, ...)`` builds
      :class:`ResumableEpochBasedTrainLoop` (exact mid-epoch resume).
    - Without CUDA, a distributed launch starts a ``gloo`` process group and
      wraps the model in DDP with ``device_ids=None`` (mmengine would call
      ``torch.cuda.set_device`` and pass ``device_ids=[LOCAL_RANK]``).
    - ``compile=True`` or ``compile=dict(...)`` (``torch.compile`` options)
      compiles the model's backbone and its training forward (backbone, head
      and loss) in place, not the whole ``train_step``: see
      :meth:`_maybe_compile`.
    - ``cfg.pretty_text``, which every checkpoint embeds, is formatted once
      per config content, not at every save.
    - Runners made in the same second (tests, sweeps in one process) get
      distinct timestamps, so they share no message hub, logger or log
      directory.
    """

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'Hp3dRunner':
        """Build from a config, as mmengine does; top-level keys spelt
        almost like a runner argument (``load_form``) get a warning, since
        mmengine ignores unknown top-level keys."""
        runner = super().from_cfg(cfg)
        known = set(inspect.signature(Runner.__init__).parameters) | {
            'compile', 'runner_type', 'custom_imports'}
        for key, meant in near_misses(cfg.keys(), known).items():
            runner.logger.warning(f'The config sets {key!r}, which nothing '
                                  f'reads: did you mean {meant!r}?')
        return runner

    @property
    def cfg(self) -> Config:
        """The run's config (mmengine sets it to a deep copy)."""
        return self._cfg

    @cfg.setter
    def cfg(self, cfg: Config) -> None:
        self._cfg = _TextCachedConfig.of(cfg)

    def setup_env(self, env_cfg: Dict) -> None:
        """Start a gloo process group on CPU-only machines, then as mmengine.

        Args:
            env_cfg (dict): ``env_cfg`` of the config; on CPU only
                ``dist_cfg.timeout`` (seconds) is used from ``dist_cfg``.
        """
        if (self.distributed and not is_distributed()
                and not torch.cuda.is_available()):
            dist_cfg = env_cfg.get('dist_cfg', {})
            init_cpu_dist(self.launcher, timeout_s=dist_cfg.get('timeout'))
            print_log(
                f'No CUDA device: started a {CPU_BACKEND} process group '
                f'(rank {os.environ["RANK"]} of {os.environ["WORLD_SIZE"]}) '
                f'instead of dist_cfg={dict(dist_cfg)}.',
                logger='current')
        super().setup_env(env_cfg)
        # Two runners made in the same second would share the experiment
        # name mmengine derives from it, hence the message hub (the second
        # run's logged losses averaged with the first's), the logger and the
        # log directory: later ones get a suffix. Every rank makes the same
        # runners, so the ranks still agree.
        timestamp, count = self._timestamp, 1
        while timestamp in _TIMESTAMPS:
            count += 1
            timestamp = f'{self._timestamp}_{count}'
        _TIMESTAMPS.add(timestamp)
        self._timestamp = timestamp

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: torch.nn.Module) -> torch.nn.Module:
        """Wrap as mmengine does, with ``device_ids=None`` for CPU DDP.

        Args:
            model_wrapper_cfg (dict, optional): ``model_wrapper_cfg`` of the
                config.
            model (nn.Module): The model to wrap.

        Returns:
            nn.Module: The model, wrapped when distributed.
        """
        if (self.distributed and not is_model_wrapper(model)
                and get_device() == 'cpu'):
            if model_wrapper_cfg is None:
                # mmengine's own defaults for this case.
                model_wrapper_cfg = dict(
                    type='MMDistributedDataParallel',
                    broadcast_buffers=False,
                    find_unused_parameters=self.cfg.get(
                        'find_unused_parameters', False))
            model_wrapper_cfg = dict(model_wrapper_cfg)
            model_wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
            wrapper_type = MODEL_WRAPPERS.get(model_wrapper_cfg['type'])
            if issubclass(wrapper_type, DistributedDataParallel):
                # torch's DDP takes device_ids=None for a CPU module.
                model_wrapper_cfg['device_ids'] = None
        return super().wrap_model(model_wrapper_cfg, model)

    def _maybe_compile(self, target: str) -> None:
        """Compile the network in place when the config asks for it.

        mmengine compiles ``model.train_step``, which also traces the data
        preprocessor, the optimizer wrapper and the hooks it calls: for the
        lifting model that cost ~100 s of compilation on a 2-core CPU and
        graph breaks at every backward and optimizer step, for a slower step
        than compiling the network alone. hp3d compiles ``model.backbone``
        with ``nn.Module.compile`` (state-dict keys unchanged, so checkpoints
        load with or without compilation), which validation during training
        runs through (mmengine asks for compilation in ``train`` only:
        ``tools/test.py`` runs eagerly), and the estimator's ``loss``
        (backbone, head and loss as one graph: ~5 % faster per lifting train
        step than the backbone alone).

        Args:
            target (str): The method mmengine would compile; only
                ``'train_step'`` (the one mmengine asks for) is handled.
        """
        compile_cfg = self.cfg.get('compile')
        if target != 'train_step' or compile_cfg in (None, False):
            return
        compile_cfg = {} if compile_cfg is True else dict(compile_cfg)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        if getattr(model.backbone, '_compiled_call_impl', None) is not None:
            return
        model.backbone.compile(**compile_cfg)
        if hasattr(model, 'loss'):
            # an instance attribute: the class and its state dict stay as
            # they are
            model.loss = torch.compile(model.loss, **compile_cfg)
        self.logger.info(
            f'Compiled the backbone ({type(model.backbone).__name__}) and the '
            f'training forward with torch.compile options {compile_cfg}; the '
            'first iterations compile.')

    def build_train_loop(self, loop: Union[BaseLoop, Dict]) -> BaseLoop:
        """Build :class:`ResumableEpochBasedTrainLoop` for ``by_epoch=True``;
        the training data's codec must be the model head's.

        Args:
            loop (BaseLoop | dict): ``train_cfg`` of the config.

        Returns:
            BaseLoop: The training loop.
        """
        if (isinstance(loop, dict) and 'type' not in loop
                and loop.get('by_epoch', False)):
            loop = {key: value for key, value in loop.items()
                    if key != 'by_epoch'}
            loop['type'] = ResumableEpochBasedTrainLoop
        loop = super().build_train_loop(loop)
        check_dataset(loop.dataloader, 'train_dataloader', training=True)
        check_codecs(self.model, loop.dataloader, 'train_dataloader')
        return loop

    def build_val_loop(self, loop: Union[BaseLoop, Dict]) -> BaseLoop:
        """Build the validation loop; its data's codec must be the head's."""
        loop = super().build_val_loop(loop)
        check_dataset(loop.dataloader, 'val_dataloader', training=False)
        check_codecs(self.model, loop.dataloader, 'val_dataloader')
        return loop

    def build_test_loop(self, loop: Union[BaseLoop, Dict]) -> BaseLoop:
        """Build the test loop; its data's codec must be the head's."""
        loop = super().build_test_loop(loop)
        check_dataset(loop.dataloader, 'test_dataloader', training=False)
        check_codecs(self.model, loop.dataloader, 'test_dataloader')
        return loop

    def register_default_hooks(
            self,
            hooks: Optional[Dict[str, Union[Hook, Dict]]] = None) -> None:
        """Register mmengine's default hooks, checkpointing atomically.

        Args:
            hooks (dict, optional): ``default_hooks`` of the config.
        """
        hooks = dict(hooks or {})
        hooks.setdefault('checkpoint',
                         dict(type=AtomicCheckpointHook, interval=1))
        hooks.setdefault('logger', dict(type=MainProcessLoggerHook))
        super().register_default_hooks(hooks)

    def register_hooks(
            self,
            default_hooks: Optional[Dict[str, Union[Hook, Dict]]] = None,
            custom_hooks: Optional[List[Union[Hook, Dict]]] = None) -> None:
        """Register hooks; warn about a checkpoint hook that is not atomic.

        Args:
            default_hooks (dict, optional): ``default_hooks`` of the config.
            custom_hooks (list, optional): ``custom_hooks`` of the config.
        """
        super().register_hooks(default_hooks, custom_hooks)
        if any(type(hook) is CheckpointHook for hook in self._hooks):
            self.logger.warning(
                "mmengine's CheckpointHook rewrites last_checkpoint in place "
                'and deletes old checkpoints before saving the new one: a '
                'crash can leave nothing to resume from. Use '
                "type='AtomicCheckpointHook'.")

    def load_or_resume(self) -> None:
        """Load or resume as mmengine does; ``resume`` without a checkpoint
        path finds the latest checkpoint in this work dir even when the
        work dir was moved or copied (``last_checkpoint`` holds an absolute
        path), and says so when there is none."""
        if self._resume and self._load_from is None and not self._has_loaded:
            latest = find_latest_checkpoint(self.work_dir)
            if latest is None:
                self.logger.warning(
                    f'resume: {self.work_dir} has no last_checkpoint file, '
                    'so there is nothing to resume: training starts from '
                    'the beginning')
            else:
                here = osp.join(self.work_dir, osp.basename(latest))
                moved = osp.abspath(here) != osp.abspath(latest)
                if moved and osp.isfile(here):
                    self.logger.info(
                        f'last_checkpoint names {latest}; resuming from the '
                        f'file of that name in this work dir, {here}')
                    latest = here
                self._load_from = latest
        super().load_or_resume()

    def val(self) -> dict:
        """Validate ``load_from``'s weights; they must fit the model."""
        self._strict_load = True
        return super().val()

    def test(self) -> dict:
        """Test ``load_from``'s weights; they must fit the model."""
        self._strict_load = True
        return super().test()

    def load_checkpoint(self, filename: str, map_location='cpu',
                        strict: bool = False,
                        revise_keys: Sequence = MMENGINE_REVISE_KEYS) -> dict:
        """Load weights as mmengine does (``load_from``, ``resume``), then
        check that the checkpoint's codec record matches the model's.

        Weights for evaluation (:meth:`val`, :meth:`test`) and for resuming
        load strictly: a checkpoint of another model would otherwise be
        evaluated with some layers left at their initialisation, or fail
        later without naming the file. Fine-tuning (``load_from`` in
        training) keeps mmengine's non-strict loading, with its warning.
        """
        strict = strict or getattr(self, '_strict_load', False) or self._resume
        try:
            checkpoint = super().load_checkpoint(
                filename, map_location=map_location, strict=strict,
                revise_keys=revise_keys)
            # mmengine checks strictly on rank 0 only: the other ranks
            # would evaluate the partly loaded model until a collective
            # fails
            mismatch = strict and _mismatch(self.model, checkpoint,
                                            revise_keys)
            if mismatch:
                raise RuntimeError(mismatch)
        except RuntimeError as error:
            if 'do not match exactly' not in str(error):
                raise
            raise RuntimeError(
                f'{filename} does not fit the model of this config (a '
                f'checkpoint of another config?):\n{error}') from None
        check_checkpoint_codec(self.model, checkpoint, filename)
        return checkpoint

    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Save a checkpoint as mmengine does, atomically for local paths.

        Args:
            out_dir (str): Directory of the checkpoint.
            filename (str): File name of the checkpoint.
            file_client_args (dict, optional): Deprecated mmengine argument.
            save_optimizer (bool): Save the optimizer state.
            save_param_scheduler (bool): Save the param scheduler states.
            meta (dict, optional): Extra ``meta`` entries; the head codec's
                numbers are added as ``meta['codec']``.
            by_epoch (bool): Whether ``meta`` counts epochs.
            backend_args (dict, optional): File backend arguments.
        """
        record = codec_record(self.model)
        if record is not None:
            meta = dict(meta or {}, codec=record)
        kwargs = dict(
            file_client_args=file_client_args,
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            meta=meta,
            by_epoch=by_epoch,
            backend_args=backend_args)
        backend = get_file_backend(out_dir, backend_args=backend_args)
        if file_client_args is not None or not isinstance(
                backend, LocalBackend):
            super().save_checkpoint(out_dir, filename, **kwargs)
            return

        tmp_filename = filename + TMP_SUFFIX
        tmp_path = osp.join(out_dir, tmp_filename)
        try:
            super().save_checkpoint(out_dir, tmp_filename, **kwargs)
            replace_atomically(tmp_path, osp.join(out_dir, filename))
        finally:
            if osp.exists(tmp_path):
                os.remove(tmp_path)
