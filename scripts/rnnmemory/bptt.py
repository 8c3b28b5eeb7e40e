"""One recurrent layer over all time steps with a hand-written backward (BPTT).

Autograd through a Python loop records about ten graph nodes per time step, and at hidden
size 10 their bookkeeping costs more than the arithmetic. Here the forward pass runs without
a graph and keeps only the activations that the backward pass needs; the backward pass walks
back through time once, with a few fused elementwise ops and one small ``bmm`` per step, and
computes the recurrent weight gradient in a single large ``bmm`` after the loop.

Conventions (K models, N sequences, H hidden units, G gate blocks, T steps):
- ``xp`` (T, K, G*H, N): input projections W_ih x_t + b_ih, with b_hh folded in where torch
  adds it outside the gate nonlinearity (all of it for RNN and LSTM, the r and z parts for GRU);
- ``w_hh`` (K, G*H, H); ``b_hn`` (K, H, 1): the GRU's b_hn, which sits inside r * (.);
- output: hidden states ``hs`` (T, K, H, N).
The gradients equal autograd's through ``models.rnn_step``/``gru_step``/``lstm_step``; the tests
check them against torch.nn in float64.
"""

from __future__ import annotations

import torch


def _prev(hs, t):
    return hs[t - 1] if t > 0 else None


def _weight_grad(dgh, hs):
    """sum_t dgh_t h_{t-1}^T as one bmm: dgh (T, K, GH, N), hs (T, K, H, N) -> (K, GH, H)."""
    steps, n_models, gh, batch = dgh.shape
    if steps == 1:
        return dgh.new_zeros(n_models, gh, hs.shape[2])
    lhs = dgh[1:].permute(1, 2, 0, 3).reshape(n_models, gh, -1)  # (K, GH, (T-1) N)
    rhs = hs[:-1].permute(1, 0, 3, 2).reshape(n_models, -1, hs.shape[2])  # (K, (T-1) N, H)
    return torch.bmm(lhs, rhs)


class RNNLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w_hh, relu):
        steps, n_models, hidden, batch = xp.shape
        hs = xp.new_empty(steps, n_models, hidden, batch)
        h = None
        for t in range(steps):
            out = hs[t]
            if h is None:
                out.copy_(xp[t])
            else:
                torch.bmm(w_hh, h, out=out).add_(xp[t])
            torch.relu_(out) if relu else out.tanh_()
            h = out
        ctx.save_for_backward(hs, w_hh)
        ctx.relu = relu
        return hs

    @staticmethod
    def backward(ctx, grad_hs):
        hs, w_hh = ctx.saved_tensors
        w_hh_t = w_hh.transpose(1, 2)
        dpre = torch.empty_like(hs)  # (T, K, H, N): gradient at the pre-activation
        dh = grad_hs[-1]
        for t in range(hs.shape[0] - 1, -1, -1):
            if ctx.relu:
                torch.mul(dh, hs[t] > 0, out=dpre[t])
            else:
                torch.mul(hs[t], hs[t], out=dpre[t])
                torch.addcmul(dh, dh, dpre[t], value=-1, out=dpre[t])  # dh (1 - h^2)
            if t > 0:
                dh = torch.bmm(w_hh_t, dpre[t]).add_(grad_hs[t - 1])
        return dpre, _weight_grad(dpre, hs), None


class GRULayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w_hh, b_hn):
        steps, n_models, gh, batch = xp.shape
        hidden = gh // 3
        hs = xp.new_empty(steps, n_models, hidden, batch)
        rz = xp.new_empty(steps, n_models, 2 * hidden, batch)  # reset and update gates
        ghn = xp.new_empty(steps, n_models, hidden, batch)  # W_hn h + b_hn
        ns = xp.new_empty(steps, n_models, hidden, batch)  # candidate state
        for t in range(steps):
            if t == 0:
                torch.sigmoid(xp[0, :, : 2 * hidden], out=rz[0])
                ghn[0].copy_(b_hn.expand(n_models, hidden, batch))
            else:
                gh_t = torch.bmm(w_hh, hs[t - 1])  # (K, 3H, N)
                torch.add(xp[t, :, : 2 * hidden], gh_t[:, : 2 * hidden], out=rz[t]).sigmoid_()
                torch.add(gh_t[:, 2 * hidden :], b_hn, out=ghn[t])
            r, z = rz[t, :, :hidden], rz[t, :, hidden:]
            n = torch.addcmul(xp[t, :, 2 * hidden :], r, ghn[t], out=ns[t]).tanh_()
            if t == 0:
                torch.addcmul(n, z, n, value=-1, out=hs[0])  # (1 - z) n, h_prev = 0
            else:
                torch.sub(hs[t - 1], n, out=hs[t]).mul_(z).add_(n)  # n + z (h - n)
        ctx.save_for_backward(hs, rz, ghn, ns, w_hh)
        return hs

    @staticmethod
    def backward(ctx, grad_hs):
        hs, rz, ghn, ns, w_hh = ctx.saved_tensors
        steps, n_models, hidden, batch = hs.shape
        w_hh_t = w_hh.transpose(1, 2)
        dgh = hs.new_empty(steps, n_models, 3 * hidden, batch)  # grad of W_hh h (+ b_hn)
        dpre_n = torch.empty_like(hs)  # grad of the candidate's pre-activation
        tmp = hs.new_empty(n_models, hidden, batch)
        dh = grad_hs[-1]
        for t in range(steps - 1, -1, -1):
            r, z, n = rz[t, :, :hidden], rz[t, :, hidden:], ns[t]
            d_r, d_z, d_ghn = (
                dgh[t, :, :hidden],
                dgh[t, :, hidden : 2 * hidden],
                dgh[t, :, 2 * hidden :],
            )
            # update gate: h = n + z (h_prev - n)
            if t > 0:
                torch.sub(hs[t - 1], n, out=d_z)
            else:
                torch.neg(n, out=d_z)
            d_z.mul_(dh)
            d_z.mul_(z).addcmul_(d_z, z, value=-1)  # dz z (1 - z)
            # candidate: dn = dh (1 - z), through tanh
            torch.addcmul(dh, dh, z, value=-1, out=dpre_n[t])
            torch.mul(n, n, out=tmp)
            torch.addcmul(dpre_n[t], dpre_n[t], tmp, value=-1, out=dpre_n[t])
            # reset gate: n = tanh(x_n + r ghn)
            torch.mul(dpre_n[t], r, out=d_ghn)
            torch.mul(dpre_n[t], ghn[t], out=d_r)
            d_r.mul_(r).addcmul_(d_r, r, value=-1)  # dr r (1 - r)
            if t > 0:
                dh_prev = torch.mul(dh, z)
                dh_prev.baddbmm_(w_hh_t, dgh[t]).add_(grad_hs[t - 1])
                dh = dh_prev
        dxp = torch.cat([dgh[:, :, : 2 * hidden], dpre_n], dim=2)  # (T, K, 3H, N)
        d_b_hn = dgh[:, :, 2 * hidden :].sum(dim=(0, 3)).unsqueeze(-1)  # (K, H, 1)
        return dxp, _weight_grad(dgh, hs), d_b_hn


class LSTMLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w_hh):
        steps, n_models, gh, batch = xp.shape
        hidden = gh // 4
        hs = xp.new_empty(steps, n_models, hidden, batch)
        acts = xp.new_empty(steps, n_models, gh, batch)  # i, f, g, o after their nonlinearity
        cs = xp.new_empty(steps, n_models, hidden, batch)
        tcs = xp.new_empty(steps, n_models, hidden, batch)  # tanh(c)
        for t in range(steps):
            a = acts[t]
            if t == 0:
                a.copy_(xp[0])
            else:
                torch.bmm(w_hh, hs[t - 1], out=a).add_(xp[t])
            a[:, : 2 * hidden].sigmoid_()
            a[:, 2 * hidden : 3 * hidden].tanh_()
            a[:, 3 * hidden :].sigmoid_()
            i, f, g, o = a.split(hidden, dim=1)
            if t == 0:
                torch.mul(i, g, out=cs[0])
            else:
                torch.mul(f, cs[t - 1], out=cs[t]).addcmul_(i, g)
            torch.tanh(cs[t], out=tcs[t])
            torch.mul(o, tcs[t], out=hs[t])
        ctx.save_for_backward(hs, acts, cs, tcs, w_hh)
        return hs

    @staticmethod
    def backward(ctx, grad_hs):
        hs, acts, cs, tcs, w_hh = ctx.saved_tensors
        steps, n_models, hidden, batch = hs.shape
        w_hh_t = w_hh.transpose(1, 2)
        dgates = torch.empty_like(acts)  # (T, K, 4H, N): grad at the gates' pre-activations
        tmp = hs.new_empty(n_models, hidden, batch)
        dh, dc = grad_hs[-1], None
        for t in range(steps - 1, -1, -1):
            i, f, g, o = acts[t].split(hidden, dim=1)
            d_i, d_f, d_g, d_o = dgates[t].split(hidden, dim=1)
            # h = o tanh(c)
            torch.mul(dh, tcs[t], out=d_o)
            torch.mul(tcs[t], tcs[t], out=tmp)
            dc_t = torch.mul(dh, o)
            dc_t.addcmul_(dc_t, tmp, value=-1)  # dh o (1 - tanh^2 c)
            if dc is not None:
                dc_t.add_(dc)
            # c = f c_prev + i g
            torch.mul(dc_t, g, out=d_i)
            if t > 0:
                torch.mul(dc_t, cs[t - 1], out=d_f)
            else:
                d_f.zero_()
            torch.mul(dc_t, i, out=d_g)
            # through the nonlinearities: sigmoid' = s (1 - s), tanh' = 1 - t^2
            for lo, hi in ((0, 2 * hidden), (3 * hidden, 4 * hidden)):
                s, d = acts[t, :, lo:hi], dgates[t, :, lo:hi]
                d.mul_(s).addcmul_(d, s, value=-1)  # d s (1 - s)
            torch.mul(g, g, out=tmp)
            d_g.addcmul_(d_g, tmp, value=-1)
            dc = dc_t.mul_(f)
            if t > 0:
                dh = torch.bmm(w_hh_t, dgates[t]).add_(grad_hs[t - 1])
        return dgates, _weight_grad(dgates, hs)


def run_layer(arch, xp, w_hh, b_hn=None, relu=False):
    """Hidden states (T, K, H, N) of one layer; see the module docstring for the inputs."""
    if arch == "rnn":
        return RNNLayer.apply(xp, w_hh, relu)
    if arch == "gru":
        return GRULayer.apply(xp, w_hh, b_hn)
    return LSTMLayer.apply(xp, w_hh)
