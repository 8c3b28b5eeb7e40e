"""Adam, SGD and RMSprop with torch's defaults, written out. Why not ``torch.optim``: its
methods are wrapped to keep TorchDynamo away, and the first call of any of them imports
``torch._dynamo`` (sympy and all, 2.8 s of a 7 s train job of the tiny study on a 2-core
EPYC). The updates follow torch's single-tensor code step by step (tests/test_optim.py
checks them against ``torch.optim`` in float64), and are elementwise: each seed's slice of a
batched parameter is updated as it would be alone."""

from collections.abc import Iterable

import torch


class Optimizer:
    """Plain first-order optimizer over a list of parameters (no parameter groups)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float):
        self.params, self.lr = list(params), lr
        self.state = [{} for _ in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is not None:
                self.update(p, p.grad, state)

    def update(self, p: torch.Tensor, grad: torch.Tensor, state: dict) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def update(self, p, grad, state):
        p.add_(grad, alpha=-self.lr)


class Adam(Optimizer):
    """Kingma & Ba 2015 with torch's defaults: betas (0.9, 0.999), eps 1e-8.

    The parameters (of one dtype and device) become views into one flat buffer, and so do their
    gradients, m and v: a step is then seven ops on one tensor instead of seven per parameter
    (about half the time: 0.12 against 0.23 ms a step for a stacked LSTM of 5 seeds and its
    head, side by side here; minibatch training takes thousands of steps). The arithmetic is
    the same elementwise (update_all, on one tensor); backward accumulates into the gradient
    views in place. Should a parameter or its gradient be replaced (``model.double()``,
    ``.to(...)``, gradients set to None), the next step lays the buffers out again, m and v
    carried over; parameters of mixed dtypes or devices step one tensor at a time."""

    betas, eps = (0.9, 0.999), 1e-8

    def __init__(self, params: Iterable[torch.Tensor], lr: float):
        super().__init__(params, lr)
        for state in self.state:
            state["step"] = 0
        self._lay_out()

    def _lay_out(self) -> None:
        """(Re)build the flat buffers around the parameters as they are now; m and v, where a
        step made them, are copied over (``copy_`` converts dtype and device)."""
        self.flat = _flatten(self.params)  # None: the parameters differ in dtype or device
        if self.flat is not None:
            for key, views in zip(("m", "v"), _views(self.params, self.flat[2:]), strict=True):
                for state, view in zip(self.state, views, strict=True):
                    if key in state:
                        view.copy_(state[key])
                    state[key] = view

    @torch.no_grad()
    def step(self) -> None:
        flat = self.flat is not None and _still_views(self.params, self.flat)
        if not flat and self.flat is not None and all(p.grad is not None for p in self.params):
            self._lay_out()  # (a parameter without gradient: skipped below, as torch skips it)
            flat = self.flat is not None
        if flat and len({s["step"] for s in self.state}) == 1:
            value, grad, m, v = self.flat
            whole = {"step": self.state[0]["step"], "m": m, "v": v}
            self.update_all([value], [grad], [whole])  # one tensor: all the parameters
            for state in self.state:
                state["step"] = whole["step"]
            # in-place updates through the flat views leave the parameters' version counters
            # alone: bump them, so that autograd still flags a graph built before this step
            torch.autograd.graph.increment_version(self.params)
            return
        live = [(p, s) for p, s in zip(self.params, self.state, strict=True) if p.grad is not None]
        if live:
            params, states = zip(*live, strict=True)
            self.update_all(list(params), [p.grad for p in params], list(states))

    def update_all(self, params, grads, states):
        """The update of every parameter at once with torch's _foreach ops: the same
        elementwise arithmetic as one op per tensor, in a seventh of the calls (each costs
        microseconds, which add up in minibatch training)."""
        beta1, beta2 = self.betas
        for p, state in zip(params, states, strict=True):
            if "m" not in state:
                state.update(m=torch.zeros_like(p), v=torch.zeros_like(p))
            elif state["m"].dtype != p.dtype or state["m"].device != p.device:
                state.update(m=state["m"].to(p), v=state["v"].to(p))
            state["step"] += 1
        ms, vs = [s["m"] for s in states], [s["v"] for s in states]
        torch._foreach_lerp_(ms, grads, 1 - beta1)
        torch._foreach_mul_(vs, beta2)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - beta2)
        denoms = torch._foreach_sqrt(vs)
        torch._foreach_div_(denoms, [(1 - beta2 ** s["step"]) ** 0.5 for s in states])
        torch._foreach_add_(denoms, self.eps)
        step_sizes = [-self.lr / (1 - beta1 ** s["step"]) for s in states]
        torch._foreach_addcdiv_(params, ms, denoms, step_sizes)


class RMSprop(Optimizer):
    """torch's defaults: alpha 0.99, eps 1e-8, no momentum, not centred."""

    alpha, eps = 0.99, 1e-8

    def update(self, p, grad, state):
        if not state:
            state["square_avg"] = torch.zeros_like(p)
        square_avg = state["square_avg"]
        square_avg.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
        p.addcdiv_(grad, square_avg.sqrt().add_(self.eps), value=-self.lr)


def _flatten(params: list[torch.Tensor]):
    """Flat (value, grad, m, v) buffers with each parameter's values and gradient made views into
    the first two (a missing gradient starts at zero; m and v start at zero); None if the
    parameters differ in dtype or device."""
    if not params or len({(p.dtype, p.device) for p in params}) != 1:
        return None
    value = torch.cat([p.detach().reshape(-1) for p in params])
    grad = torch.cat(
        [
            (p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1)
            for p in params
        ]
    )
    for p, p_view, g_view in zip(params, *_views(params, (value, grad)), strict=True):
        p.data = p_view
        p.grad = g_view
    return value, grad, torch.zeros_like(value), torch.zeros_like(value)


def _views(params, flats):
    """For each flat buffer, its views shaped as the parameters, in order."""
    out = []
    for flat in flats:
        views, offset = [], 0
        for p in params:
            views.append(flat[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
        out.append(views)
    return out


def _still_views(params, flat) -> bool:
    """Whether every parameter and gradient still lives in the flat buffers (and in order)."""
    value, grad = flat[0].data_ptr(), flat[1].data_ptr()
    size, offset = flat[0].element_size(), 0
    for p in params:
        if p.grad is None or p.data_ptr() != value + offset or p.grad.data_ptr() != grad + offset:
            return False
        offset += p.numel() * size
    return True


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}
