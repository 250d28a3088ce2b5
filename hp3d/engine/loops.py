"""An epoch-based training loop that resumes exactly where a run stopped."""
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from hp3d.engine.rng import (
    RNG_STATE_KEY,
    get_rng_state,
    preserved_rng_state,
    set_rng_state,
)
from hp3d.registry import LOOPS

__all__ = [
    'ResumableEpochBasedTrainLoop', 'VALIDATED_EPOCH_KEY', 'EPOCH_KEY'
]

# Runtime-info keys of the message hub (saved with every checkpoint): the
# last epoch whose validation began, and where the epoch last begun started
# (dict: epoch, start_iter, length in iterations). (mmengine's LogProcessor
# logs runtime info whose key starts with 'val' or 'train' as a metric, so
# the keys must not.)
VALIDATED_EPOCH_KEY = 'last_validated_epoch'
EPOCH_KEY = 'current_epoch_span'


class _RngStateSaver(Hook):
    """Has its loop put the generator states into every checkpoint."""

    def __init__(self, loop: 'ResumableEpochBasedTrainLoop') -> None:
        self.loop = loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loop._save_rng_state(checkpoint)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose resumed run equals the uninterrupted one.

    mmengine's loop restarts the epoch of a checkpoint saved inside an
    epoch (``CheckpointHook(by_epoch=False)``), repeating its iterations,
    and continues with freshly seeded random generators. This loop:

    - skips the iterations of the resumed epoch that the checkpoint already
      holds. The skipped batches are loaded and dropped (as mmengine's
      ``IterBasedTrainLoop`` does) so data-loader workers draw the same
      random augmentations as in the interrupted run;
    - puts the random generator states into every checkpoint as it is
      saved (its message hub's runtime info ``rng_state``): the states the
      next training iteration starts from, i.e. the current ones, or during
      a validation (mmengine saves the epoch checkpoint again when
      ``save_best`` finds a new best) those from before it. On resume they
      are restored right before that iteration;
    - keeps the creation of the data iterator and the validation runs from
      advancing the training generators;
    - runs the validation of the resumed epoch first when the checkpoint was
      saved at the end of an epoch, before that validation (as mmengine's
      ``CheckpointHook`` does), so the logged metrics and ``save_best``
      match as well;
    - records where the current epoch began and its length with every
      checkpoint. A checkpoint saved between epochs resumes with any epoch
      length (other batch size, number of processes or data); one saved
      inside an epoch needs the same length, else the run is refused rather
      than misaligned.

    With the same seed (``randomness=dict(seed=...)``) and deterministic
    kernels, a run killed at any point and resumed from its last checkpoint
    reaches the same weights as an uninterrupted run. Arguments are those of
    ``EpochBasedTrainLoop``; ``Hp3dRunner`` builds this loop for
    ``train_cfg=dict(by_epoch=True, ...)``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._resumed_rng_state = None
        self._resumed_batches = 0
        self._rng_state_to_save = None
        self.runner.register_hook(_RngStateSaver(self))

    def run(self):
        """Train until ``max_epochs``, validating every ``val_interval``."""
        self.runner.call_hook('before_train')
        # Present only when the runner resumed from a checkpoint of this loop.
        self._resumed_rng_state = self.runner.message_hub.pop_info(
            RNG_STATE_KEY)
        if self._iter > 0 and self._resumed_rng_state is None:
            print_log(
                'The resumed checkpoint has no random generator states '
                '(it was not written with ResumableEpochBasedTrainLoop): '
                'training continues with freshly seeded generators.',
                logger='current')

        self._resumed_batches = self._batches_done()

        # A checkpoint saved at the end of an epoch precedes that epoch's
        # validation: run it now, as the interrupted run did after saving.
        self._decide_current_val_interval()
        validated = self.runner.message_hub.get_info(VALIDATED_EPOCH_KEY)
        if (self._epoch > 0 and self._resumed_batches == 0
                and self._validation_due()
                and (validated is None or validated < self._epoch)):
            self._validate()

        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()

            self._decide_current_val_interval()
            if self._validation_due():
                self._validate()

        self.runner.call_hook('after_train')
        return self.runner.model

    def _batches_done(self) -> int:
        """Batches of the current epoch that the resumed checkpoint holds.

        Raises:
            RuntimeError: A checkpoint saved inside an epoch, whose epoch
                length differs from this run's.
        """
        length = len(self.dataloader)
        span = self.runner.message_hub.get_info(EPOCH_KEY)
        if span is None:
            # a fresh run, or a checkpoint of an older hp3d: assume this
            # epoch length throughout
            span = dict(epoch=self._epoch, start_iter=self._epoch * length,
                        length=length)
        if span['epoch'] != self._epoch:
            # saved between epochs: any epoch length will do
            if span['length'] != length:
                print_log(
                    f'Resumed with {length} iterations per epoch instead of '
                    f'{span["length"]}: parameter schedulers converted to '
                    'iterations (convert_to_iter_based) keep the boundaries '
                    'computed from the old length.', logger='current',
                    level=logging.WARNING)
            return 0
        done = self._iter - span['start_iter']
        if not 0 <= done <= span['length'] or (
                0 < done < span['length'] and span['length'] != length):
            raise RuntimeError(
                f'Cannot resume at iteration {self._iter}, batch {done} of '
                f'epoch {self._epoch + 1}: the checkpoint was saved inside an '
                f'epoch of {span["length"]} iterations, and an epoch has '
                f'{length} iterations now. The data set, batch size or number '
                'of processes differs from the run that saved it; resume from '
                'a checkpoint saved at the end of an epoch instead.')
        # the last iteration's checkpoint: the whole epoch is done
        return length if done and done == span['length'] else done

    def _validation_due(self) -> bool:
        """Whether the epochs done so far end with a validation."""
        return (self.runner.val_loop is not None
                and self._epoch >= self.val_begin
                and (self._epoch % self.val_interval == 0
                     or self._epoch == self._max_epochs))

    def _validate(self) -> None:
        # Recorded first, so that a checkpoint saved during validation
        # (save_best) does not validate again when resumed.
        self.runner.message_hub.update_info(VALIDATED_EPOCH_KEY, self._epoch)
        with preserved_rng_state() as state:
            # what checkpoints saved during validation hold: the states
            # the next training iteration starts from
            self._rng_state_to_save = state
            try:
                self.runner.val_loop.run()
            finally:
                self._rng_state_to_save = None

    def _save_rng_state(self, checkpoint: dict) -> None:
        """Put the generator states into a checkpoint being saved.

        Taken as the checkpoint is saved, not after every iteration (~2 %
        of a small model's train step): outside validation the current
        states are those the next iteration starts from.
        """
        hub = checkpoint.get('message_hub')
        if hub is None:
            return
        state = self._rng_state_to_save
        hub['runtime_info'][RNG_STATE_KEY] = (
            get_rng_state() if state is None else state)
        hub['resumed_keys'][RNG_STATE_KEY] = True

    def run_epoch(self) -> None:
        """Iterate over the epoch's batches not yet trained on."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        with preserved_rng_state():
            batches = iter(self.dataloader)

        done, self._resumed_batches = self._resumed_batches, 0
        self.runner.message_hub.update_info(EPOCH_KEY, dict(
            epoch=self._epoch, start_iter=self._iter - done,
            length=len(self.dataloader)))
        if done:
            print_log(
                f'Skipping the {done} batches of epoch {self._epoch + 1} '
                'trained before the checkpoint', logger='current')
            for _ in range(done):
                next(batches)
        if self._resumed_rng_state is not None:
            set_rng_state(self._resumed_rng_state)
            self._resumed_rng_state = None

        for idx, data_batch in enumerate(batches, start=done):
            self.run_iter(idx, data_batch)

        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx: int, data_batch: dict) -> None:
        """Train on one batch (mmengine's ``run_iter``, states published).

        Args:
            idx (int): Index of the batch in the epoch.
            data_batch (dict): The collated batch.
        """
        self.runner.call_hook(
            'before_train_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper)
        self.runner.call_hook(
            'after_train_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)
        self._iter += 1
