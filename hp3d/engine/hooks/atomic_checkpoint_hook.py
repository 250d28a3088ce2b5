"""mmengine's CheckpointHook with a crash-safe order of file operations."""
import glob
import inspect
import os
import os.path as osp
from typing import Callable, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from hp3d.engine.config_errors import near_misses
from hp3d.registry import HOOKS
from hp3d.utils.atomic_io import TMP_SUFFIX, write_text_atomic

__all__ = ['AtomicCheckpointHook']

# Message-hub key: the checkpoint files that are deleted once a checkpoint is
# written (the one beyond max_keep_ckpts, the previous best), recorded in that
# checkpoint, so that a run killed before the deletions finishes them when
# resumed.
PENDING_REMOVALS_KEY = 'ckpt_pending_removals'


class _DeferredRemovals:
    """A file backend whose deletions wait for :meth:`apply` (each path is
    reported to ``on_defer`` first); every other call goes to ``backend``."""

    def __init__(self, backend, on_defer: Callable[[str], None]) -> None:
        self._backend = backend
        self._on_defer = on_defer
        self._pending = []

    def remove(self, path) -> None:
        self._pending.append((self._backend.remove, path))
        self._on_defer(path)

    def rmtree(self, path) -> None:
        self._pending.append((self._backend.rmtree, path))
        self._on_defer(path)

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def apply(self) -> None:
        for remove, path in self._pending:
            remove(path)
        self._pending = []


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """Save checkpoints so that a crash never breaks ``--resume``.

    Same arguments and behaviour as mmengine's ``CheckpointHook``; three
    changes in how the files are written:

    1. the new checkpoint is saved first (``Hp3dRunner.save_checkpoint``
       writes ``<name>.tmp`` and renames it when complete);
    2. then the ``last_checkpoint`` pointer is replaced atomically (mmengine
       truncates and rewrites it, so a kill can leave it empty);
    3. only then is the checkpoint beyond ``max_keep_ckpts`` deleted
       (mmengine deletes it before saving, so a kill in between can leave the
       pointer naming a deleted file); likewise the previous best checkpoint
       of ``save_best`` is deleted only once the new one and the checkpoint
       that names it are written (mmengine deletes it first: a kill in
       between left no best checkpoint at all).

    Partial ``*.pth.tmp`` files left by a killed run are removed when
    training starts. Every checkpoint records the files deleted after it is
    written; a resumed run deletes those its checkpoint names that a kill
    left behind.
    """

    # previous best checkpoints whose deletion waits for the new best
    _deferred_best: Tuple[str, ...] = ()

    def before_train(self, runner) -> None:
        self._check_extra_args(runner)
        super().before_train(runner)
        if not is_main_process():
            return
        if osp.isdir(self.out_dir):
            extension = osp.splitext(self.filename_tmpl)[1]
            pattern = osp.join(self.out_dir, f'*{extension}{TMP_SUFFIX}')
            for stale in glob.glob(pattern):
                runner.logger.warning(
                    f'Removing {stale}: a checkpoint write that never '
                    'completed (the previous run was interrupted)')
                os.remove(stale)
        for path in runner.message_hub.get_info(PENDING_REMOVALS_KEY, []):
            # only this run's own files (a checkpoint resumed from another
            # work dir names files there)
            mine = self.file_backend.join_path(self.out_dir,
                                               osp.basename(path)) == path
            if mine and self._remove(path):
                runner.logger.info(
                    f'Removed {path}: an outdated checkpoint whose deletion '
                    'was cut short with the previous run')

    def _check_extra_args(self, runner) -> None:
        """Refuse arguments that ``runner.save_checkpoint`` does not take
        before training, not when the first epoch's checkpoint is saved."""
        accepted = inspect.signature(runner.save_checkpoint).parameters
        unknown = sorted(set(self.args) - set(accepted))
        if not unknown:
            return
        hook_args = inspect.signature(CheckpointHook.__init__).parameters
        known = sorted((set(accepted) | set(hook_args))
                       - {'self', 'kwargs', 'out_dir', 'filename'})
        # difflib's default cutoff: argument names are short
        close = near_misses(unknown, known, cutoff=0.6)
        hints = [f'{name!r} (did you mean {close[name]!r}?)' if name in close
                 else repr(name) for name in unknown]
        raise TypeError(
            f'{type(self).__name__} got unknown arguments {", ".join(hints)}; '
            'extra arguments go to runner.save_checkpoint, which takes '
            f'{", ".join(sorted(set(accepted) - {"out_dir", "filename"}))}')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated_step = self._update_keep_ckpt_ids(runner, step)
        outdated = ([] if outdated_step is None else
                    [self._ckpt_path(outdated_step)])
        runner.message_hub.update_info(PENDING_REMOVALS_KEY,
                                       outdated + list(self._deferred_best))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self._ckpt_path(step)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        # Sharded (model-parallel) saving involves every rank; the pointer
        # and the clean-up are the main process's.
        if not is_main_process():
            return
        write_text_atomic(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for path in outdated:
            self._remove(path)

    def _ckpt_path(self, step: int) -> str:
        """The file of the checkpoint saved at ``step``."""
        return self.file_backend.join_path(self.out_dir,
                                           self.filename_tmpl.format(step))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # Best checkpoints belong to a training run: runner.val() outside
        # one has no output backend yet (mmengine's hook raises
        # AttributeError there).
        backend = getattr(self, 'file_backend', None)
        if not self.save_best or backend is None:
            return

        def defer(path: str) -> None:
            # the new best, and the latest checkpoint saved again after it,
            # record the deletion
            self._deferred_best += (path, )
            runner.message_hub.update_info(PENDING_REMOVALS_KEY,
                                           list(self._deferred_best))

        deferred = _DeferredRemovals(backend, defer)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
            self._deferred_best = ()
        deferred.apply()

    def _update_keep_ckpt_ids(self, runner, step: int):
        """Record ``step`` among the kept checkpoints, as mmengine does.

        The ids go into the message hub before saving so that the new
        checkpoint carries them.

        Returns:
            int | None: The step whose checkpoint falls out of
            ``max_keep_ckpts`` and is to be deleted after the save.
        """
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
            return None
        outdated = None
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated = self.keep_ckpt_ids.popleft()
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return outdated

    def _remove(self, path: str) -> bool:
        """Delete a checkpoint file or directory; False when there is none."""
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            # DeepSpeed saves a checkpoint as a directory.
            self.file_backend.rmtree(path)
        else:
            return False
        return True
