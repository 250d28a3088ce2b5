"""Adam whose update is one call over one buffer holding every parameter."""
from typing import Any, Callable, Dict, List, Optional

import torch
from torch import Tensor
from torch._utils import _flatten_dense_tensors
from torch.optim import Adam
from torch.optim.adam import adam

from hp3d.registry import OPTIMIZERS

__all__ = ['FlatAdam']

_MOMENTS = ('exp_avg', 'exp_avg_sq', 'max_exp_avg_sq')


@OPTIMIZERS.register_module()
class FlatAdam(Adam):
    """``torch.optim.Adam`` that updates all parameters in one call.

    For models of many small tensors the update's per-tensor overhead
    outweighs its arithmetic: fused Adam over the 55 tensors (35 k values)
    of the lifting Transformer takes ~230 us on one core of a 2-vCPU EPYC,
    this optimizer's step ~95 us, gathering the gradients included (a
    lifting train step ~0.2 ms, 2-3 %, faster). At construction the
    parameters' data move into one contiguous buffer (each parameter
    becomes a view of it; the ``Parameter`` objects, their names and the
    model's state dict are unchanged), and so do Adam's moments. Each step
    gathers the gradients in one call and runs Adam's update once over the
    buffer.

    The update is element-wise: with ``Adam``'s default (per-tensor) update
    the weights are bitwise those of ``Adam`` with the same arguments; the
    fused update rounds the tail of each tensor that does not fill a vector
    register differently (vector fused multiply-adds against scalar code),
    so there they may differ in the last bit. Gradient
    clipping, AMP's unscaling and :class:`NaNGuardHook` see the parameters'
    own gradients, as with ``Adam``. ``state_dict`` and ``load_state_dict``
    use ``Adam``'s layout for the same parameters: checkpoints resume with
    either optimizer.

    Constraints: one parameter group (no ``paramwise_cfg``), one dtype and
    device, no closure, ``maximize`` and ``differentiable`` off; at each
    step every parameter has a gradient, or none has (the step is then
    skipped, as ``NaNGuardHook`` does). Build it
    after the model has reached its device (mmengine does): a parameter
    whose data is replaced afterwards (``param.data = ...``) no longer
    lives in the buffer, and the next step says so instead of updating a
    copy.

    Args:
        params (Iterable[Tensor]): The parameters.
        **kwargs: ``torch.optim.Adam``'s arguments (``lr``, ``betas``,
            ``eps``, ``weight_decay``, ``amsgrad``, ``fused``, ...).
    """

    def __init__(self, params, **kwargs) -> None:
        params = list(params)
        if not params or any(isinstance(p, dict) for p in params):
            raise ValueError(
                'FlatAdam takes one plain list of parameters, got '
                f'{"none" if not params else "parameter groups"} (per-'
                "parameter options, paramwise_cfg, need type='Adam')")
        super().__init__(params, **kwargs)
        if self.defaults['maximize'] or self.defaults['differentiable']:
            raise ValueError('FlatAdam supports neither maximize nor '
                             'differentiable')
        first = params[0]
        odd = [i for i, p in enumerate(params)
               if p.dtype != first.dtype or p.device != first.device]
        if odd:
            raise ValueError(
                f'FlatAdam needs parameters of one dtype and device: '
                f'parameter 0 is {first.dtype} on {first.device}, parameter '
                f'{odd[0]} {params[odd[0]].dtype} on {params[odd[0]].device}')
        # GradScaler then unscales the parameters' own gradients before step
        self._step_supports_amp_scaling = False
        with torch.no_grad():
            self._flat = torch.cat([p.detach().reshape(-1) for p in params])
            for p, view in zip(params, self._views(self._flat)):
                p.data = view
        self._addresses = [p.data_ptr() for p in params]
        self._moments: Dict[str, Tensor] = {}
        # where Adam keeps its step counts: on the device only for the
        # fused and capturable updates
        group = self.param_groups[0]
        on_device = group['fused'] or group['capturable']
        self._step_count = torch.zeros(
            (), dtype=torch.float32,
            device=first.device if on_device else 'cpu')

    @property
    def _params(self) -> List[Tensor]:
        return self.param_groups[0]['params']

    def _views(self, flat: Tensor) -> List[Tensor]:
        """``flat`` split into tensors shaped as the parameters."""
        sizes = [p.numel() for p in self._params]
        return [chunk.view_as(p)
                for p, chunk in zip(self._params, flat.split(sizes))]

    def _moment(self, name: str) -> Tensor:
        """Adam's buffer ``name`` for all parameters, created on first use,
        with a view of it (and the step count) as each parameter's state,
        where ``Adam`` keeps them."""
        if name not in self._moments:
            self._moments[name] = torch.zeros_like(self._flat)
            for p, view in zip(self._params, self._views(self._moments[name])):
                self.state[p][name] = view
                self.state[p]['step'] = self._step_count
        return self._moments[name]

    def _check_storage(self) -> None:
        addresses = [p.data_ptr() for p in self._params]
        if addresses == self._addresses:
            return
        for i, (p, address) in enumerate(zip(self._params, self._addresses)):
            if p.data_ptr() != address:
                raise RuntimeError(
                    f'FlatAdam: parameter {i} {tuple(p.shape)} no longer '
                    "lives in the optimizer's buffer: its data was replaced "
                    'after the optimizer was built (param.data = ..., or '
                    'the model moved to another device). Build the optimizer '
                    'after that.')

    @torch.no_grad()
    def step(self, closure: Optional[Callable] = None) -> None:
        """One Adam update of every parameter (none without gradients).

        Raises:
            ValueError: With a closure, or when some parameters have
                gradients and others not.
        """
        if closure is not None:
            raise ValueError('FlatAdam.step takes no closure')
        grads = [p.grad for p in self._params]
        if any(g is None for g in grads):
            missing = [i for i, g in enumerate(grads) if g is None]
            if len(missing) == len(grads):
                return
            raise ValueError(
                f'FlatAdam: parameters {missing[:10]} have no gradient at '
                'this step and the others have: it updates all or none '
                "(use type='Adam' for models that leave parameters unused)")
        self._check_storage()
        group = self.param_groups[0]
        amsgrad = group['amsgrad']
        beta1, beta2 = group['betas']
        adam([self._flat],
             # one C++ call: half the time of torch.cat over reshapes
             [_flatten_dense_tensors(grads)],
             [self._moment('exp_avg')], [self._moment('exp_avg_sq')],
             [self._moment('max_exp_avg_sq')] if amsgrad else [],
             [self._step_count],  # counted up by the update
             foreach=group['foreach'],
             capturable=group['capturable'],
             fused=group['fused'],
             decoupled_weight_decay=group['decoupled_weight_decay'],
             amsgrad=amsgrad,
             beta1=beta1,
             beta2=beta2,
             lr=group['lr'],
             weight_decay=group['weight_decay'],
             eps=group['eps'],
             maximize=False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the parameters' gradients (to None by default)."""
        for p in self._params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_()
                p.grad.zero_()

    def state_dict(self) -> Dict[str, Any]:
        """``Adam``'s state dict of the same parameters (each its own step
        count: ``Adam`` counts every parameter's separately)."""
        state_dict = super().state_dict()
        # (the per-parameter dicts are this optimizer's own: copied)
        state_dict['state'] = {
            i: dict(state, step=state['step'].clone())
            for i, state in state_dict['state'].items()}
        return state_dict

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Load an ``Adam`` or ``FlatAdam`` state dict of the same
        parameters; the state then lives in the buffers again."""
        super().load_state_dict(state_dict)
        states = [self.state.get(p, {}) for p in self._params]
        steps = {float(s['step']) for s in states if 'step' in s}
        if len(steps) > 1:
            raise ValueError(
                'FlatAdam keeps one step count for all parameters; the '
                f'state dict has several: {sorted(steps)}')
        with torch.no_grad():
            self._step_count.fill_(steps.pop() if steps else 0.0)
            self._moments = {}
            for name in _MOMENTS:
                if any(name in s for s in states):
                    loaded = [s.get(name) for s in states]
                    flat = self._moment(name)
                    for view, value in zip(self._views(flat), loaded):
                        if value is not None:
                            view.copy_(value)
