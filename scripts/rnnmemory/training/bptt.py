"""One recurrent layer over all time steps with a hand-written backward pass (BPTT).

Why by hand: autograd through a Python time loop records about ten graph nodes per step, and
at hidden size 10 their bookkeeping and the temporaries they keep cost more than the arithmetic.
Here the forward pass runs without a graph and keeps only what the backward pass needs; the
backward pass walks back through time once, and every weight gradient comes from one batched
matmul over all steps after the loop.

One matmul per step. Each step multiplies a *step matrix* W (K, G'H, H+I) with the stacked
state and input z_t = [h_t; x_t] (K, H+I, N). The states are written straight into a buffer
``zin`` (T+1, K, H+I, N) that already holds the inputs, so no per-step copy is needed.
- RNN, LSTM: W = [W_hh | W_ih], bias b_ih + b_hh.
- GRU: the candidate needs W_hn h and W_in x apart (r multiplies only the first), so
  W = [[W_hr W_ir], [W_hz W_iz], [W_hn 0], [0 W_in]] (4H rows), bias [b_r, b_z, b_hn, b_in].
``step_matrix`` builds W and the bias from torch's tensors (autograd maps their gradients back).

Layouts: the layer takes x (K, I, T, N) and returns states (K, H, T, N) or the last (K, H, N).
Inside, every buffer is time-major, (T, K, rows, N), so each step works on contiguous blocks:
with time as a middle axis the per-step slices are strided, and measured here a bmm on such a
slice costs several times more than on a contiguous one.
"""

from __future__ import annotations

import torch


class Workspace:
    """Large buffers of one layer, kept from one training step to the next.

    A buffer of tens of MB that is allocated anew every step comes back from the allocator as
    fresh pages, and touching them costs page faults: measured here, writes into such a buffer
    ran 4x slower than into a reused one. A forward pass under autograd claims the workspace
    until its backward pass has run; a second forward pass before that gets fresh buffers, so
    reuse never overwrites saved activations.
    """

    def __init__(self):
        self.buffers: dict[str, torch.Tensor] = {}
        self.claimed = False

    def get(self, name, shape, like):
        buf = self.buffers.get(name)
        if (
            buf is None
            or buf.shape != shape
            or buf.dtype != like.dtype
            or buf.device != like.device
        ):
            buf = self.buffers[name] = like.new_empty(shape)
        return buf


def _alloc(ctx, name, shape, like):
    ws = ctx.workspace
    return ws.get(name, torch.Size(shape), like) if ws is not None else like.new_empty(shape)


def _claim(ctx, workspace):
    """Use the workspace if it is free and a backward pass will release it."""
    ws = workspace if workspace is not None and not workspace.claimed else None
    if ws is not None and ctx.needs_backward:
        ws.claimed = True
    ctx.workspace = ws


def _release(ctx):
    if ctx.workspace is not None:
        ctx.workspace.claimed = False


def step_matrix(cell, w_ih, w_hh, b_ih, b_hh):
    """The per-step matrix (K, G'H, H+I) and bias (K, G'H, 1) of one layer, built with autograd
    from torch's parameter layout."""
    if cell != "gru":
        return torch.cat([w_hh, w_ih], dim=2), (b_ih + b_hh).unsqueeze(-1)
    hidden = w_hh.shape[2]
    rz = torch.cat([w_hh[:, : 2 * hidden], w_ih[:, : 2 * hidden]], dim=2)
    hn = torch.cat([w_hh[:, 2 * hidden :], torch.zeros_like(w_ih[:, 2 * hidden :])], dim=2)
    xn = torch.cat([torch.zeros_like(w_hh[:, 2 * hidden :]), w_ih[:, 2 * hidden :]], dim=2)
    bias = torch.cat(
        [
            b_ih[:, : 2 * hidden] + b_hh[:, : 2 * hidden],
            b_hh[:, 2 * hidden :],
            b_ih[:, 2 * hidden :],
        ],
        dim=1,
    )
    return torch.cat([rz, hn, xn], dim=1), bias.unsqueeze(-1)


def _inputs_buffer(ctx, x, hidden):
    """zin (T+1, K, H+I, N): rows :H of step t will hold h_t (zero at t = 0), rows H: hold x_t."""
    n_models, inputs, steps, batch = x.shape
    zin = _alloc(ctx, "zin", (steps + 1, n_models, hidden + inputs, batch), x)
    zin[0, :, :hidden].zero_()
    zin[:steps, :, hidden:].copy_(x.permute(2, 0, 1, 3))
    zin[steps, :, hidden:].zero_()
    return zin


def _finish(ctx, zin, dgates, weight):
    """Gradients of x, of the step matrix and of the bias from the gate gradients dG (T, K, R, N):
    dW = sum_t dG_t z_t^T as one batched matmul over (T, K)."""
    hidden, steps = ctx.hidden, dgates.shape[0]
    d_weight = torch.matmul(dgates, zin[:steps].transpose(2, 3)).sum(0)  # (K, R, H+I)
    d_bias = dgates.sum(dim=(0, 3)).unsqueeze(-1)  # (K, R, 1)
    d_x = None
    if ctx.need_x:  # inputs of an upper layer: W_x^T dG_t for every step at once
        d_x = torch.matmul(weight[:, :, hidden:].transpose(1, 2), dgates)  # (T, K, I, N)
        d_x = d_x.permute(1, 2, 0, 3)  # (K, I, T, N)
    _release(ctx)
    return d_x, d_weight, d_bias


def _output(ctx, zin):
    """All states (K, H, T, N) for a lower layer, else only the last (K, H, N)."""
    hidden = ctx.hidden
    if ctx.all_states:
        return zin[1:, :, :hidden].permute(1, 2, 0, 3).contiguous()
    return zin[-1, :, :hidden].clone()


def _incoming(ctx, grad_out, t):
    """Gradient arriving at h_t (t = 1..T) from outside the recurrence, or None."""
    if ctx.all_states:
        return grad_out[:, :, t - 1]
    return grad_out if t == ctx.steps else None


def _accumulate(dh, incoming):
    if dh is None:
        return incoming.contiguous()
    return dh if incoming is None else dh.add_(incoming)


class RNNLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, workspace, relu, all_states):
        ctx.relu = relu
        zin, n_models, steps, batch, hidden = _setup(ctx, x, weight, 1, workspace, all_states)
        bias_nb = bias.expand(n_models, hidden, batch)
        for t in range(steps):
            pre = torch.baddbmm(bias_nb, weight, zin[t])  # (K, H, N)
            if relu:
                torch.clamp(pre, min=0, out=zin[t + 1, :, :hidden])
            else:
                torch.tanh(pre, out=zin[t + 1, :, :hidden])
        ctx.save_for_backward(zin, weight)
        return _output(ctx, zin)

    @staticmethod
    def backward(ctx, grad_out):
        zin, weight = ctx.saved_tensors
        hidden, steps = ctx.hidden, ctx.steps
        w_h_t = weight[:, :, :hidden].transpose(1, 2)
        dpre = _alloc(ctx, "dgates", (steps, zin.shape[1], hidden, zin.shape[3]), zin)
        dh = None
        for t in range(steps, 0, -1):  # h_t = act(pre_{t-1})
            dh = _accumulate(dh, _incoming(ctx, grad_out, t))
            h, d = zin[t, :, :hidden], dpre[t - 1]
            if ctx.relu:
                torch.mul(dh, h > 0, out=d)
            else:
                torch.mul(h, h, out=d)
                torch.addcmul(dh, dh, d, value=-1, out=d)  # dh (1 - h^2)
            if t > 1:
                dh = torch.bmm(w_h_t, d)
        return (*_finish(ctx, zin, dpre, weight), None, None, None)


class GRULayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, workspace, all_states):
        zin, n_models, steps, batch, hidden = _setup(ctx, x, weight, 4, workspace, all_states)
        # per step: [r, z, W_hn h + b_hn, W_in x + b_in], with r and z already activated
        gates = _alloc(ctx, "gates", (steps, n_models, 4 * hidden, batch), x)
        ns = _alloc(ctx, "ns", (steps, n_models, hidden, batch), x)  # candidate states
        bias_nb = bias.expand(n_models, 4 * hidden, batch)
        for t in range(steps):
            g = gates[t]
            torch.baddbmm(bias_nb, weight, zin[t], out=g)
            g[:, : 2 * hidden].sigmoid_()
            r, z = g[:, :hidden], g[:, hidden : 2 * hidden]
            n = torch.addcmul(g[:, 3 * hidden :], r, g[:, 2 * hidden : 3 * hidden], out=ns[t])
            n.tanh_()
            h = zin[t + 1, :, :hidden]
            torch.sub(zin[t, :, :hidden], n, out=h).mul_(z).add_(n)  # n + z (h_prev - n)
        ctx.save_for_backward(zin, gates, ns, weight)
        return _output(ctx, zin)

    @staticmethod
    def backward(ctx, grad_out):
        zin, gates, ns, weight = ctx.saved_tensors
        hidden, steps = ctx.hidden, ctx.steps
        w_h_t = weight[:, :, :hidden].transpose(1, 2)
        dgates = _alloc(ctx, "dgates", gates.shape, zin)  # grads of the 4 blocks of W z + b
        dh = None
        for t in range(steps, 0, -1):
            dh = _accumulate(dh, _incoming(ctx, grad_out, t))
            g, d, n = gates[t - 1], dgates[t - 1], ns[t - 1]
            r, z, ghn = g[:, :hidden], g[:, hidden : 2 * hidden], g[:, 2 * hidden : 3 * hidden]
            d_r, d_z, d_ghn, d_xn = d.split(hidden, dim=1)
            # update gate, h = n + z (h_prev - n)
            torch.sub(zin[t - 1, :, :hidden], n, out=d_z).mul_(dh)
            d_z.mul_(z).addcmul_(d_z, z, value=-1)  # * z (1 - z)
            # candidate: dn = dh (1 - z), through tanh
            torch.addcmul(dh, dh, z, value=-1, out=d_xn)
            d_xn.addcmul_(d_xn, n * n, value=-1)
            # reset gate, n = tanh(x_n + r ghn)
            torch.mul(d_xn, r, out=d_ghn)
            torch.mul(d_xn, ghn, out=d_r)
            d_r.mul_(r).addcmul_(d_r, r, value=-1)  # * r (1 - r)
            if t > 1:
                dh = torch.mul(dh, z).baddbmm_(w_h_t, d)
        return (*_finish(ctx, zin, dgates, weight), None, None)


class LSTMLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, workspace, all_states):
        zin, n_models, steps, batch, hidden = _setup(ctx, x, weight, 4, workspace, all_states)
        acts = _alloc(ctx, "acts", (steps, n_models, 4 * hidden, batch), x)  # i, f, g, o
        cs = _alloc(ctx, "cs", (steps, n_models, hidden, batch), x)
        tcs = _alloc(ctx, "tcs", (steps, n_models, hidden, batch), x)  # tanh(c)
        bias_nb = bias.expand(n_models, 4 * hidden, batch)
        for t in range(steps):
            a = acts[t]
            torch.baddbmm(bias_nb, weight, zin[t], out=a)
            a[:, : 2 * hidden].sigmoid_()
            a[:, 2 * hidden : 3 * hidden].tanh_()
            a[:, 3 * hidden :].sigmoid_()
            i, f, g, o = a.split(hidden, dim=1)
            if t == 0:
                torch.mul(i, g, out=cs[0])
            else:
                torch.mul(f, cs[t - 1], out=cs[t]).addcmul_(i, g)
            torch.mul(o, torch.tanh(cs[t], out=tcs[t]), out=zin[t + 1, :, :hidden])
        ctx.save_for_backward(zin, acts, cs, tcs, weight)
        return _output(ctx, zin)

    @staticmethod
    def backward(ctx, grad_out):
        zin, acts, cs, tcs, weight = ctx.saved_tensors
        hidden, steps = ctx.hidden, ctx.steps
        w_h_t = weight[:, :, :hidden].transpose(1, 2)
        dgates = _alloc(ctx, "dgates", acts.shape, zin)  # grads at the gate pre-activations
        dh, dc = None, None
        for t in range(steps, 0, -1):
            dh = _accumulate(dh, _incoming(ctx, grad_out, t))
            a, d, tc = acts[t - 1], dgates[t - 1], tcs[t - 1]
            i, f, g, o = a.split(hidden, dim=1)
            d_i, d_f, d_g, d_o = d.split(hidden, dim=1)
            torch.mul(dh, tc, out=d_o)  # h = o tanh(c)
            dc_t = torch.mul(dh, o)
            dc_t.addcmul_(dc_t, tc * tc, value=-1)  # * (1 - tanh^2 c)
            if dc is not None:
                dc_t.add_(dc)
            torch.mul(dc_t, g, out=d_i)  # c = f c_prev + i g
            if t > 1:
                torch.mul(dc_t, cs[t - 2], out=d_f)
            else:
                d_f.zero_()
            torch.mul(dc_t, i, out=d_g)
            for lo, hi in ((0, 2 * hidden), (3 * hidden, 4 * hidden)):
                s, ds = a[:, lo:hi], d[:, lo:hi]
                ds.mul_(s).addcmul_(ds, s, value=-1)  # * s (1 - s)
            d_g.addcmul_(d_g, g * g, value=-1)  # * (1 - g^2)
            dc = dc_t.mul_(f)
            if t > 1:
                dh = torch.bmm(w_h_t, d)
        return (*_finish(ctx, zin, dgates, weight), None, None)


def _setup(ctx, x, weight, blocks, workspace, all_states):
    """Common start of a forward pass: record what backward needs, claim the workspace, fill
    the inputs buffer. ``blocks``: row blocks of the step matrix (1 for RNN, 4 for GRU, LSTM)."""
    n_models, _, steps, batch = x.shape
    hidden = weight.shape[1] // blocks
    ctx.hidden, ctx.steps, ctx.all_states = hidden, steps, all_states
    ctx.need_x = ctx.needs_input_grad[0]
    ctx.needs_backward = any(ctx.needs_input_grad)
    _claim(ctx, workspace)
    return _inputs_buffer(ctx, x, hidden), n_models, steps, batch, hidden


# the hand-written BPTT layer of each cell of archs.CELLS (a test checks they agree)
LAYERS = {"rnn": RNNLayer, "gru": GRULayer, "lstm": LSTMLayer}


def run_layer(cell, x, w_ih, w_hh, b_ih, b_hh, relu=False, all_states=True, workspace=None):
    """One layer of a cell (archs.CELLS; W_hh full): x (K, I, T, N) -> all states
    (K, H, T, N), or the last (K, H, N)."""
    if cell not in LAYERS:
        raise ValueError(f"no BPTT layer for cell {cell!r}; known: {', '.join(LAYERS)}")
    weight, bias = step_matrix(cell, w_ih, w_hh, b_ih, b_hh)
    # only a pass that a backward pass follows may claim the reused buffers: under no_grad
    # ctx.needs_input_grad is still True, and nothing would release them again
    train = torch.is_grad_enabled() and any(t.requires_grad for t in (x, w_ih, w_hh, b_ih, b_hh))
    workspace = workspace if train else None
    extra = (relu,) if cell == "rnn" else ()
    return LAYERS[cell].apply(x, weight, bias, workspace, *extra, all_states)
