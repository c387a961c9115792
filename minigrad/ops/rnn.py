"""One recurrent layer in one direction, over a whole sequence, as one graph node.

The input-to-hidden product of every time step is one big GEMM done before (an ordinary Linear op), so
this node runs only the recurrence: per step ONE matrix product ``h @ W_hh.T`` for all gates, then the
gate nonlinearities. Its backward walks the steps in reverse with one product per step, and leaves the
weight gradient to one big GEMM over all steps at the end.

The output stacks the states of every step: shape (S, T, B, H), S = 2 for LSTM (hidden, cell), else 1.
Packed sequences (``batch_sizes``: rows sorted by decreasing length, only the first ``batch_sizes[t]`` are
active at step t) carry an inactive row's state through unchanged, so the last step processed holds each
sequence's final state in either direction, and an inactive row passes its gradient straight through.
"""
from ..autograd import Function
from ..autograd.function import recording
from ..backend import kernels


def _sigmoid(xp, a):
    return xp.tanh(a * 0.5) * 0.5 + 0.5  # as ops.Sigmoid: never overflows


def _previous(xp, states, first, reverse):
    """The state each step starts from: the previous step's (the next one's when reversed), or the initial one."""
    if reverse:
        return xp.concatenate([states[1:], first[None]], axis=0)
    return xp.concatenate([first[None], states[:-1]], axis=0)


def _state_before(states, first, reverse):
    """_previous's step t, as a function of t: backward takes one step at a time, without a shifted copy."""
    last = len(states) - 1 if reverse else 0
    shift = 1 if reverse else -1
    return lambda t: first if t == last else states[t + shift]


def _weight_grad(d_pre, states, first, reverse):
    """The sum over steps of d_pre[t].T @ (the state step t starts from) in two GEMMs: one over every step that
    starts from another step's state (views of both: no shifted copy), one for the step that starts from ``first``."""
    steps, batch, width = d_pre.shape
    inner, outer = (slice(None, -1), slice(1, None)) if reverse else (slice(1, None), slice(None, -1))
    rows = (steps - 1) * batch
    return (d_pre[inner].reshape((rows, width)).T @ states[outer].reshape((rows, states.shape[-1]))
            + d_pre[-1 if reverse else 0].T @ first)


def gate_activations(xp, mode, x_proj, w_hh, h_prev, b_hh=None, cells=None):
    """What backward needs from the gates, for all steps at once, concatenated on the last axis: LSTM
    (i, f, g, o, tanh c), GRU (r, z, n, W_hn h + b_hn). Written with backward's vocabulary, so that it
    rebuilds them as a graph for double backward; the forward pass computes the same values step by step."""
    hidden = w_hh.shape[1]
    hh = h_prev @ w_hh.T
    if mode == "lstm":
        pre = x_proj + hh
        return xp.concatenate([_sigmoid(xp, pre[..., :2 * hidden]), xp.tanh(pre[..., 2 * hidden:3 * hidden]),
                               _sigmoid(xp, pre[..., 3 * hidden:]), xp.tanh(cells)], axis=-1)
    if b_hh is not None:
        hh = hh + b_hh
    rz = _sigmoid(xp, x_proj[..., :2 * hidden] + hh[..., :2 * hidden])
    hn = hh[..., 2 * hidden:]
    n = xp.tanh(x_proj[..., 2 * hidden:] + rz[..., :hidden] * hn)
    return xp.concatenate([rz, n, hn], axis=-1)


class Recurrence(Function):
    """inputs: x_proj (T, B, G) = x @ W_ih.T + bias, w_hh (G, H), h0 (B, H), then c0 (B, H) for LSTM or
    b_hh (G,) for GRU (its n-gate part sits inside r * (W_hn h + b_hn), so it cannot fold into x_proj)."""

    def forward(self, x_proj, w_hh, h0, aux=None, mode="lstm", reverse=False, batch_sizes=None):
        xp = self.xp
        steps, batch = x_proj.shape[:2]
        hidden = w_hh.shape[1]
        self.mode, self.reverse, self.steps = mode, reverse, steps
        # the rows still running at each step of a packed batch, as a (B, 1) mask (None: all of them)
        self.active = None if batch_sizes is None else [
            None if n == batch else (xp.arange(batch) < n)[:, None] for n in batch_sizes]
        lstm = mode == "lstm"
        out = xp.empty((2 if lstm else 1, steps, batch, hidden), x_proj.dtype)
        acts = None
        if mode in ("lstm", "gru"):  # inactive rows' entries stay zero: backward masks them, they must be finite
            width = (5 if lstm else 4) * hidden
            acts = (xp.empty if batch_sizes is None else xp.zeros)((steps, batch, width), x_proj.dtype)
        w_t = xp.ascontiguousarray(w_hh.T)  # OpenBLAS runs h @ w_t ~1.5x faster than on the transposed view
        h, c = h0, aux
        step_kernels = kernels(xp)  # the gate math of one step: fused loops where numba is installed
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            n = batch if batch_sizes is None else batch_sizes[t]
            x, h_in = x_proj[t, :n], h[:n]
            if lstm:
                xp.matmul(h_in, w_t, out=acts[t, :n, :4 * hidden])
                step_kernels.lstm_step_forward(xp, x, acts[t, :n], c[:n], out[0, t, :n], out[1, t, :n])
            elif mode == "gru":
                hh = h_in @ w_t
                if aux is not None:
                    hh += aux
                step_kernels.gru_step_forward(xp, x, hh, acts[t, :n], h_in, out[0, t, :n])
            else:
                pre = x + h_in @ w_t
                out[0, t, :n] = xp.tanh(pre) if mode == "rnn_tanh" else xp.maximum(pre, 0)
            if n < batch:  # finished sequences keep their state
                out[0, t, n:] = h[n:]
                if lstm:
                    out[1, t, n:] = c[n:]
            h = out[0, t]
            c = out[1, t] if lstm else None
        self.save_for_backward(x_proj, w_hh, h0, aux, out, acts)
        return out

    def saved_for_graph(self, inputs, output):
        # graph_xp imports Tensor, which imports the ops: it can only be imported at call time
        from ..autograd import graph_xp
        x_proj, w_hh, h0, aux = (tuple(inputs) + (None,))[:4]
        if self.mode not in ("lstm", "gru"):  # a plain RNN saves nothing derived
            return x_proj, w_hh, h0, aux, output, None
        h_prev = _previous(graph_xp, output[0], h0, self.reverse)
        lstm = self.mode == "lstm"
        acts = gate_activations(graph_xp, self.mode, x_proj, w_hh, h_prev, None if lstm else aux,
                                output[1] if lstm else None)
        return x_proj, w_hh, h0, aux, output, acts

    def backward(self, grad):
        xp = self.xp
        x_proj, w_hh, h0, aux, out, acts = self.saved
        if self.mode == "lstm":
            c_prev = _state_before(out[1], aux, self.reverse)
            d_x, d_h0, d_c0 = _lstm_backward(xp, self.visits(), grad, acts, c_prev, w_hh)
            d_hh = d_x
        elif self.mode == "gru":
            h_prev = _state_before(out[0], h0, self.reverse)
            d_x, d_hh, d_h0 = _gru_backward(xp, self.visits(), grad[0], h_prev, acts, w_hh)
        else:
            d_x, d_h0 = _rnn_backward(xp, self.visits(), grad[0], out[0], w_hh, self.mode)
            d_hh = d_x
        need = self.needs_input_grad
        d_w = None
        if need[1]:  # big GEMMs over all steps instead of one per step
            d_w = _weight_grad(d_hh, out[0], h0, self.reverse)
        grads = (d_x if need[0] else None, d_w, d_h0 if need[2] else None)
        if self.mode == "lstm":
            return grads + (d_c0 if need[3] else None,)
        if aux is not None:
            return grads + (d_hh.sum(axis=(0, 1)) if need[3] else None,)
        return grads

    def visits(self):
        """(step, active-row mask or None) in the order backward visits them: the forward order reversed."""
        steps = range(self.steps) if self.reverse else range(self.steps - 1, -1, -1)
        return [(t, None if self.active is None else self.active[t]) for t in steps]


# The backward loops take each step's gate derivatives inside the loop, on (B, H) slices that stay in cache:
# computing them for all steps up front costs 3x more (measured), all in full-size temporaries.
def _lstm_backward(xp, visits, grad, acts, c_prev, w_hh):
    """(d gates (T, B, 4H), d h0, d c0). On arrays, every step writes into buffers allocated once: its gate
    gradient into its slice of the result, the state gradients it sends back into one of two (B, H) pairs
    used in turn (the kernel reads the other). A recorded (create_graph) pass builds new Tensors instead."""
    step_kernels = kernels(xp)  # the reference (recorded) in a create_graph pass
    in_place = xp is not recording.xp
    if in_place:
        d_gates = xp.empty(acts.shape[:2] + (grad.shape[-1] * 4,), acts.dtype)
        states = [(xp.empty_like(grad[0, 0]), xp.empty_like(grad[0, 0])) for _ in range(2)]
    else:
        d_gates = [None] * len(visits)
    dh_next = dc_next = None
    for k, (t, active) in enumerate(visits):
        out = (d_gates[t], states[k % 2][1]) if in_place else None
        dg, dc_prev = step_kernels.lstm_step_backward(xp, grad[0, t], grad[1, t], acts[t], c_prev(t), dh_next,
                                                      dc_next, out=out)
        dh_prev = xp.matmul(dg, w_hh, out=states[k % 2][0]) if in_place else dg @ w_hh
        if active is not None:  # finished rows: no gate gradient, the state's gradient passes through
            dh = grad[0, t] if dh_next is None else grad[0, t] + dh_next
            dc_in = grad[1, t] if dc_next is None else grad[1, t] + dc_next
            dg = xp.where(active, dg, xp.zeros_like(dg))
            dh_prev, dc_prev = xp.where(active, dh_prev, dh), xp.where(active, dc_prev, dc_in)
        if active is not None or not in_place:
            d_gates[t] = dg
        dh_next, dc_next = dh_prev, dc_prev
    return (d_gates if in_place else xp.stack(d_gates, axis=0)), dh_next, dc_next


def _gru_backward(xp, visits, grad, h_prev, acts, w_hh):
    step_kernels = kernels(xp)
    d_x, d_hh = [None] * len(visits), [None] * len(visits)
    dh_next = None
    for t, active in visits:
        dh = grad[t] if dh_next is None else grad[t] + dh_next
        dx, dhh, dh_skip = step_kernels.gru_step_backward(xp, dh, acts[t], h_prev(t))
        dh_next = dh_skip + dhh @ w_hh
        if active is not None:
            dx, dhh = xp.where(active, dx, xp.zeros_like(dx)), xp.where(active, dhh, xp.zeros_like(dhh))
            dh_next = xp.where(active, dh_next, dh)
        d_x[t], d_hh[t] = dx, dhh
    return xp.stack(d_x, axis=0), xp.stack(d_hh, axis=0), dh_next


def _rnn_backward(xp, visits, grad, states, w_hh, mode):
    d_pre = [None] * len(visits)
    dh_next = None
    for t, active in visits:
        h = states[t]
        dh = grad[t] if dh_next is None else grad[t] + dh_next
        dp = dh * (1 - h * h) if mode == "rnn_tanh" else xp.where(h > 0, dh, xp.zeros_like(dh))
        dh_next = dp @ w_hh
        if active is not None:
            dp = xp.where(active, dp, xp.zeros_like(dp))
            dh_next = xp.where(active, dh_next, dh)
        d_pre[t] = dp
    return xp.stack(d_pre, axis=0), dh_next
