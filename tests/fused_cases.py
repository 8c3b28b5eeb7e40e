"""What the fused kernel's tests share: the cases, small data, and the gradients of a model
through its forward call or through the trainer's ``losses`` (tests/test_fused.py,
tests/test_one_pass.py)."""

import torch

from rnnmemory.core.archs import ARCH_RECORDS, ARCHS, CELLS
from rnnmemory.training.models import to_model_layout

SHAPE = dict(input_size=3, hidden_size=5, output_size=2)
# every registered arch; each nonlinearity where the arch has the option
CASES = [
    (arch, nonlinearity)
    for arch in ARCHS
    for nonlinearity in (
        ("tanh", "relu") if "nonlinearity" in ARCH_RECORDS[arch].options else (None,)
    )
]

# every cell of the layer runners (bptt.run_layer, fused.run_layer): rnn with both activations
CELL_CASES = [
    (cell, nl) for cell in CELLS for nl in (("tanh", "relu") if cell == "rnn" else (None,))
]


def shape_of(arch, layers, nonlinearity):
    shape = dict(SHAPE, num_layers=layers)
    if "nonlinearity" in ARCH_RECORDS[arch].options:
        shape["nonlinearity"] = nonlinearity
    return shape


def sample_data(n_models, batch, steps, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_models, batch, steps, 3, generator=gen, dtype=torch.float64)  # (K,N,T,I)
    return x.to(dtype), torch.randn(n_models, batch, 2, generator=gen).to(dtype)


def stacked_grads(model, x, target):
    """Outputs, parameter gradients and the input gradient (K, N, T, I) of the summed MSE."""
    xm = to_model_layout(x).requires_grad_()
    out = model(xm)
    ((out - target) ** 2).sum().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    return out.detach(), grads, xm.grad.permute(0, 3, 2, 1)


def loss_grads(model, x, target, input_grad=True):
    """As stacked_grads through ``losses`` (the trainer's call: one kernel pass for the top
    layer): the losses (K,), parameter gradients and the input's (None without input_grad,
    the kernel then skips dx)."""
    xm = to_model_layout(x).requires_grad_(input_grad)
    losses = model.losses(xm, target, "mse")
    assert graph_has(losses, "FusedLastStateBackward")
    losses.sum().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    return losses.detach(), grads, xm.grad.permute(0, 3, 2, 1) if input_grad else None


def graph_has(tensor, name):
    """Whether ``name`` is among the autograd nodes that produced ``tensor``."""
    todo, seen = [tensor.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__ == name:
            return True
        todo += [parent for parent, _ in node.next_functions]
    return False


def weighted_losses(losses):
    """Seeds weighted 1, 0.5, 0 (the last as a diverged seed is masked), summed."""
    weights = torch.tensor([1.0, 0.5, 0.0], dtype=losses.dtype)
    return (losses * weights[: len(losses)]).sum()


GRADS = {"forward": stacked_grads, "losses": loss_grads}
