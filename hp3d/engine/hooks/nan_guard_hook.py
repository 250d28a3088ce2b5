"""Stop training (or skip the update) when the loss or gradients go NaN/Inf."""
import math
from functools import partial
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.optim import OptimWrapperDict
from torch.nn.utils import get_total_norm

from hp3d.registry import HOOKS

__all__ = ['NaNGuardHook']

_ACTIONS = ('stop', 'skip')
# What GradScaler's check takes; other tensors (complex, sparse, integer,
# other devices) are checked with norms.
_AMP_CHECK_DTYPES = frozenset(
    {torch.float16, torch.bfloat16, torch.float32, torch.float64})
_AMP_CHECK_DEVICES = ('cpu', 'cuda')


def _is_finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return bool(torch.isfinite(value.detach()).all())
        # a logged loss: ``item`` is ~30x cheaper than an isfinite reduction
        # (~1 % of a small model's train step), and syncs a GPU no more
        value = value.item()
    return math.isfinite(float(value))


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        value = value.detach()
        return str(value.item() if value.numel() == 1 else value.tolist())
    return str(value)


def _all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    """Whether every value of every tensor is finite.

    Dense floating-point tensors on CPU or CUDA are checked in one C++ pass
    per device and dtype (grouped as ``torch.amp.GradScaler`` groups them),
    by the check it runs before each step
    (``_amp_foreach_non_finite_check_and_unscale_`` with a scale of 1, which
    leaves every value bitwise as it was). For the lifting model's 55
    gradients in a train step that takes ~30 us, against ~310 us for
    copying them into one buffer and reducing its 2-norm: those passes meet
    caches the backward filled with activations. Other tensors go through
    norms: the 2-norm is finite whenever all values are; only when it is not
    (NaN/Inf, or an overflow of huge finite values) the infinity norm,
    which cannot overflow, decides.
    """
    groups: Dict[tuple, List[torch.Tensor]] = {}
    for tensor in tensors:
        groups.setdefault((tensor.device, tensor.dtype), []).append(tensor)
    for (device, dtype), group in groups.items():
        if (device.type in _AMP_CHECK_DEVICES and dtype in _AMP_CHECK_DTYPES
                and all(t.layout == torch.strided and not t.requires_grad
                        for t in group)):
            found = torch.zeros(1, device=device)
            torch._amp_foreach_non_finite_check_and_unscale_(
                group, found, torch.ones(1, device=device))
            finite = not found.item()
        else:
            finite = _norms_finite([t.detach() for t in group if t.numel()])
        if not finite:
            return False
    return True


def _norms_finite(tensors: List[torch.Tensor]) -> bool:
    if not tensors:
        return True
    norm = partial(get_total_norm, tensors, foreach=True)
    return bool(torch.isfinite(norm(2.0)) or torch.isfinite(norm(float('inf'))))


def _any_process(flag: bool) -> bool:
    """Whether ``flag`` is set on any process (just ``flag`` without a
    process group)."""
    if not is_distributed():
        return flag
    value = torch.tensor(float(flag))
    all_reduce(value, op='max')
    return bool(value.item() > 0)


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Keep non-finite numbers out of the weights and the checkpoints.

    Before every optimizer step (a ``torch.optim.Optimizer`` step pre-hook,
    so it sees the gradients after clipping and, with AMP, after unscaling)
    the gradients are checked; non-finite ones are dropped, which makes the
    step a no-op for every parameter. After every iteration the logged losses
    are checked. On a non-finite loss or gradient:

    - ``action='stop'``: raise ``FloatingPointError`` naming the epoch and
      iteration. The hook runs first among the ``after_train_iter`` hooks, so
      no checkpoint is written after the fault and the weights in memory are
      those before the faulty update.
    - ``action='skip'``: leave the weights and optimizer state as they were
      before the iteration, restore the buffers (e.g. BatchNorm statistics
      and counters updated by the faulty forward), drop the
      non-finite values from the log, warn, and go on; after
      ``max_consecutive_skips`` skipped iterations in a row, stop as above.

    With gradient accumulation a non-finite micro-batch skips the whole
    accumulated update. Under DDP the gradients are all-reduced before the
    check, and a fault in one process's logged values is shared with the
    others (one all-reduce of a flag per iteration), so every rank decides
    the same.

    Args:
        action (str): ``'stop'`` or ``'skip'``. Defaults to ``'stop'``.
        max_consecutive_skips (int): With ``'skip'``, how many iterations in
            a row may be skipped before training stops. Defaults to 10.
    """

    # Before RuntimeInfoHook (VERY_HIGH) logs the losses and before
    # CheckpointHook (VERY_LOW) saves.
    priority = 'HIGHEST'

    def __init__(self, action: str = 'stop',
                 max_consecutive_skips: int = 10) -> None:
        if action not in _ACTIONS:
            raise ValueError(
                f'action must be one of {_ACTIONS}, got {action!r}')
        if max_consecutive_skips < 1:
            raise ValueError('max_consecutive_skips must be >= 1, got '
                             f'{max_consecutive_skips}')
        self.action = action
        self.max_consecutive_skips = max_consecutive_skips
        self._handles: List = []
        self._update_dropped = False
        self._consecutive_skips = 0
        self._buffers: Optional[Dict[str, torch.Tensor]] = None

    def before_train(self, runner) -> None:
        optim_wrapper = runner.optim_wrapper
        wrappers = (optim_wrapper.optim_wrappers.values() if isinstance(
            optim_wrapper, OptimWrapperDict) else [optim_wrapper])
        for wrapper in wrappers:
            self._handles.append(
                wrapper.optimizer.register_step_pre_hook(
                    self._drop_nonfinite_gradients))

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _drop_nonfinite_gradients(self, optimizer, args, kwargs) -> None:
        params = [
            param for group in optimizer.param_groups
            for param in group['params'] if param.grad is not None
        ]
        if _all_finite([param.grad for param in params]):
            return
        # A parameter without a gradient is left untouched by every
        # torch optimizer (no momentum, no weight decay).
        for param in params:
            param.grad = None
        self._update_dropped = True

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._update_dropped = False
        if self.action == 'skip':
            self._buffers = {
                name: buffer.detach().clone()
                for name, buffer in self._model(runner).named_buffers()
            }

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        outputs = {} if outputs is None else outputs
        bad_logs = [key for key, value in outputs.items()
                    if not _is_finite(value)]
        local_fault = bool(bad_logs) or self._update_dropped
        # Gradients are all-reduced, but logged values are per process: all
        # must decide alike, or a stopping rank leaves the others waiting.
        if not _any_process(local_fault):
            self._consecutive_skips = 0
            return

        faults = []
        if bad_logs:
            faults.append('logged ' + ', '.join(
                f'{key}={_describe(outputs[key])}' for key in bad_logs))
        if self._update_dropped:
            faults.append('non-finite gradients')
        if not local_fault:
            faults.append('a non-finite value on another process')
        where = (f'epoch {runner.epoch + 1}, iter {runner.iter + 1} (batch '
                 f'{batch_idx + 1} of the epoch)')
        fault = ' and '.join(faults)

        if self.action == 'skip':
            self._consecutive_skips += 1
            if self._consecutive_skips <= self.max_consecutive_skips:
                self._skip(runner, outputs, bad_logs)
                runner.logger.warning(
                    f'NaNGuardHook: {fault} at {where}; the update was '
                    f'skipped ({self._consecutive_skips} in a row).')
                return
            fault += (f' in {self._consecutive_skips} consecutive '
                      'iterations')
        raise FloatingPointError(
            f'NaNGuardHook: {fault} at {where}. Training stopped before '
            'the faulty update reached the weights; no checkpoint was written '
            'after it. Lower the learning rate, check the data of this '
            "batch, or use NaNGuardHook(action='skip').")

    def _skip(self, runner, outputs: dict, bad_logs: Sequence[str]) -> None:
        """Undo what the faulty iteration left besides the dropped update."""
        for name, buffer in self._model(runner).named_buffers():
            buffer.copy_(self._buffers[name])
        for key in bad_logs:
            outputs.pop(key)
        # OptimWrapper logs the gradient norm while clipping, before the
        # optimizer step: drop the iteration's non-finite entries.
        for key, history in runner.message_hub.log_scalars.items():
            logs, counts = history.data
            if key.startswith('train/') and len(logs) and not math.isfinite(
                    logs[-1]):
                runner.message_hub.log_scalars[key] = HistoryBuffer(
                    logs[:-1], counts[:-1], history.max_length)

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        model = runner.model
        return model.module if hasattr(model, 'module') else model
