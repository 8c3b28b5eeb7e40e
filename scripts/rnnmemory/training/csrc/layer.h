// One layer over all time steps, task by task (torch-free; fused.cpp runs the tasks in
// parallel). A task is one seed k and one block of samples (one SIMD vector); it runs its
// block through all T steps, so the block's state, gates and gradients stay in cache.
//
// Time is cut into segments of kSegment steps. Forward keeps only the state entering each
// segment (a checkpoint: h, and c for the LSTM). Backward walks the segments from the last:
// it reruns the segment forward from its checkpoint, keeping the segment's inputs, gates and
// states in a buffer that stays in L2, then walks back through it. So the backward pass does
// one extra forward pass of arithmetic and no memory traffic beyond the inputs: storing every
// step's gates instead would take several times the memory of the states, and streaming
// them (or the states) back from DRAM cost more time than recomputing them (measured).
//
// Training a top layer whose loss reads only h_T (train_tasks) skips most reruns: the
// gradient at h_T is known up front (affine in h_T), so a task walks back right after its
// forward pass, through the segments it kept whole in cache; only the earlier ones (beyond
// fused.cpp's kKeepBytes, i.e. long sequences) are rerun. 1.4-1.5x per epoch at T = 100.
//
// Layouts: tensors (K, rows, T, N) are read "strided" (a block is cnt <= lanes samples of
// every row); checkpoints are "blocked", (K * blocks, segments, H, lanes).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cells.h"

namespace rnnfused {

constexpr int kSegment = 16;  // steps per segment (4 and 8 measured slower)

template <class T>
using Buffer = std::vector<Vec<T>>;  // 64-byte aligned (C++17 aligned new)

inline int64_t segments(int64_t steps) { return (steps + kSegment - 1) / kSegment; }

// One task's view of a sequence: vector (row, t) of its block at base + t * st + row * sr.
template <class T>
struct Seq {
  T* base;
  int64_t st, sr;
  int cnt;
  Vec<T> get(int row, int64_t t) const { return load(base + t * st + row * sr, cnt); }
  void put(int row, int64_t t, Vec<T> v) const { store(base + t * st + row * sr, v, cnt); }
  void prefetch(int rows, int64_t t) const {
    for (int row = 0; row < rows; ++row) __builtin_prefetch(base + t * st + row * sr);
  }
};

// Everything a task needs: sizes, per-seed weights (kernel layout, see Weights) and tensors.
template <class T>
struct Problem {
  Dims d;
  int64_t K, steps, N, blocks;
  const T *w, *whh_t, *wih_t;  // (K, ..., lanes or 1) each, contiguous (see Weight)
  const T* x;                          // (K, I, T, N)
  T* out = nullptr;  // forward: all states (K, H, T, N) if all_states, else the last (K, H, N)
  bool all_states = false;
  T *ckpt_h = nullptr, *ckpt_c = nullptr;  // checkpoints (null: forward keeps none)
  // backward: the gradient of out (grad_all: of every state), dx (like x, or null) and
  // partial (K * blocks, GR, H + I + 1): each task's weight gradient
  const T* grad = nullptr;
  bool grad_all = false;
  T *dx = nullptr, *partial = nullptr;
  // packed tails (train_last): each task's lanes hold lanes / pack_tail seeds' pack_tail
  // samples; partial is then (tasks, lanes / pack_tail, GR, H + I + 1), one slot per seed
  int pack_tail = 0;

  static constexpr int lanes = Simd<T>::lanes;
  Weights<T> seed(int64_t k) const {
    const int H = d.H, I = d.I, GH = d.GH;
    auto as = [](const T* p) { return reinterpret_cast<const Weight<T>*>(p); };  // see Weight
    return {as(w) + k * d.GR * d.ZC, as(whh_t) + k * H * GH, as(wih_t) + k * I * GH};
  }
  int64_t first(int64_t task) const { return task % blocks * lanes; }
  int count(int64_t task) const {
    return static_cast<int>(std::min<int64_t>(lanes, N - first(task)));
  }
  Seq<T> strided(const T* p, int rows, int64_t task, int64_t len) const {
    T* base = const_cast<T*>(p) + task / blocks * rows * len * N + first(task);
    return {base, N, len * N, count(task)};
  }
  Seq<T> checkpoints(const T* p, int64_t task) const {
    return {const_cast<T*>(p) + task * segments(steps) * d.H * lanes, d.H * lanes, lanes, lanes};
  }
};

// A segment's buffers. Slot s of z holds [h_{t-1}; x_t; 1; 0 padding] for t = t0 + s (slot
// kSegment: the state after the segment), of c the cell c_{t-1}; a, aux and g hold the gate
// activations, step_forward's aux and the gate gradients of step t0 + s.
template <class T>
struct Segment {
  int cols, cols_p, rows_p;
  Buffer<T> z, c, a, aux, g;
  // grads: with a gate-gradient buffer g (segments that only keep a forward pass need none)
  explicit Segment(const Dims& d, bool grads = true)
      : cols(d.H + d.I + 1), cols_p(d.ZC), rows_p(round_up(d.GR, kTileRows)),
        z((kSegment + 1) * cols_p), c((kSegment + 1) * d.H), a(kSegment * d.GR),
        aux(kSegment * d.H), g(grads ? kSegment * rows_p : 0) {
    for (int s = 0; s <= kSegment; ++s) z[s * cols_p + cols - 1] = splat(T(1));  // bias
  }
  // bytes of a segment without g, i.e. of one that keeps a forward pass (train_tasks)
  static int64_t forward_bytes(const Dims& d) {
    return ((kSegment + 1) * (d.ZC + d.H) + kSegment * (d.GR + d.H)) * sizeof(Vec<T>);
  }
  Vec<T>* zs(int s) { return z.data() + s * cols_p; }
  Vec<T>* cs(int s, int H) { return c.data() + s * H; }
  // x_t for the len steps from t0, and where the segment starts (the checkpoint)
  void load_inputs(const Dims& d, const Seq<T>& xs, int64_t t0, int len) {
    for (int s = 0; s < len; ++s)
      for (int i = 0; i < d.I; ++i) zs(s)[d.H + i] = xs.get(i, t0 + s);
  }
};

// len steps forward from slot 0 of the segment; keep: keep every step's gates (for backward),
// else reuse slot 0's (stays in L1). Not inlined: forward and backward run the same
// instructions, so the backward pass recomputes exactly the states the forward pass had.
template <class T>
__attribute__((noinline)) void segment_forward(const Dims& d, const Weights<T>& w, int len,
                                               bool keep, Segment<T>& sg) {
  for (int s = 0; s < len; ++s) {
    const int slot = keep ? s : 0;
    step_forward(d, w, sg.zs(s), sg.zs(s + 1), sg.cs(s, d.H), sg.cs(s + 1, d.H),
                 sg.a.data() + slot * d.GR, sg.aux.data() + slot * d.H);
  }
}

template <class T>
void forward_tasks(const Problem<T>& p, int64_t begin, int64_t end) {
  const Dims d = p.d;
  Segment<T> sg(d);
  for (int64_t task = begin; task < end; ++task) {
    const Weights<T> w = p.seed(task / p.blocks);
    const Seq<T> xs = p.strided(p.x, d.I, task, p.steps);
    const Seq<T> hs = p.strided(p.out, d.H, task, p.all_states ? p.steps : 1);
    const Seq<T> ckh = p.checkpoints(p.ckpt_h, task), ckc = p.checkpoints(p.ckpt_c, task);
    std::fill(sg.zs(0), sg.zs(0) + d.H, Vec<T>{});  // h_{-1} = c_{-1} = 0
    std::fill(sg.cs(0, d.H), sg.cs(1, d.H), Vec<T>{});
    for (int64_t t0 = 0, k = 0; t0 < p.steps; t0 += kSegment, ++k) {
      const int len = static_cast<int>(std::min<int64_t>(kSegment, p.steps - t0));
      for (int j = 0; j < d.H && p.ckpt_h; ++j) ckh.put(j, k, sg.zs(0)[j]);
      for (int j = 0; j < d.H && p.ckpt_c; ++j) ckc.put(j, k, sg.cs(0, d.H)[j]);
      sg.load_inputs(d, xs, t0, len);
      segment_forward(d, w, len, false, sg);
      for (int s = 1; s <= len && p.all_states; ++s)
        for (int j = 0; j < d.H; ++j) hs.put(j, t0 + s - 1, sg.zs(s)[j]);
      std::copy_n(sg.zs(len), d.H, sg.zs(0));  // the next segment starts where this one ends
      std::copy_n(sg.cs(len, d.H), d.H, sg.cs(0, d.H));
    }
    for (int j = 0; j < d.H && !p.all_states; ++j) hs.put(j, 0, sg.zs(0)[j]);
  }
}

// Walk back through a segment whose buffers hold its forward pass (segment_forward with
// keep): the gate gradients into g (kSegment x rows_p), dx (if wanted), dh and dc carried to
// the step before the segment, and the weight-gradient tiles into acc.
template <class T>
void segment_backward(const Problem<T>& p, const Weights<T>& w, int64_t t0, int len,
                      Segment<T>& sg, Vec<T>* g, const Seq<T>& gs, const Seq<T>& dxs,
                      Vec<T>* dh, Vec<T>* dc, Vec<T>* dxv, Vec<T>* acc) {
  const Dims& d = p.d;
  for (int s = len - 1; s >= 0; --s) {
    const int64_t t = t0 + s;
    Vec<T>* gt = g + s * sg.rows_p;
    step_backward<T>(d, sg.zs(s), sg.zs(s + 1), sg.a.data() + s * d.GR,
                     sg.aux.data() + s * d.H, sg.cs(s, d.H), dh, dc, gt);
    if (p.dx) {
      input_grad(d, w, gt, dxv);
      for (int i = 0; i < d.I; ++i) dxs.put(i, t, dxv[i]);
    }
    if (t) {
      matvec<T>(w.whh_t, d.GH, d.H, d.GH, gt, dh);  // + W_hh^T g
      for (int j = 0; j < d.H && p.grad_all; ++j) dh[j] += gs.get(j, t - 1);
    }
  }
  const bool gru = d.cell == kGRU;  // (see accumulate_outer)
  accumulate_outer<T>(g, sg.z.data(), len, sg.rows_p, sg.cols_p, acc,
                      gru ? round_up(3 * d.H, kTileRows) : sg.rows_p, d.H / 4 * 4);
}

// The sum of a vector's lanes as a tree of halves (lo + hi, then again): a fixed order, so
// deterministic, and log2(lanes) vector adds instead of a chain of scalar ones (the chain,
// once per weight and task, was a third of a task's time at T = 5).
template <class T, int L>
inline T lane_sum(const T* lanes) {
  if constexpr (L == 1) {
    return lanes[0];
  } else {
    typedef T Half __attribute__((vector_size(L / 2 * sizeof(T))));
    Half lo, hi;
    std::memcpy(&lo, lanes, sizeof(Half));
    std::memcpy(&hi, lanes + L / 2, sizeof(Half));
    const Half sum = lo + hi;
    return lane_sum<T, L / 2>(reinterpret_cast<const T*>(&sum));
  }
}

// A task's weight gradient, rows (GR) x columns [h | x | 1], its lanes summed (lanes past the
// block's samples zeroed first: they hold the padding's gradients), into partial[task].
template <class T>
void write_partial(const Problem<T>& p, int64_t task, const Buffer<T>& acc, int cols_p) {
  using I = typename Simd<T>::I;
  constexpr int L = Simd<T>::lanes;
  const int cols = p.d.H + p.d.I + 1, cnt = p.count(task);
  I keep{};
  for (int l = 0; l < L; ++l) keep[l] = l < cnt ? ~0 : 0;
  T* o = p.partial + task * p.d.GR * cols;
  for (int r = 0; r < p.d.GR; ++r) {
    for (int j = 0; j < cols; ++j) {
      const Vec<T> v = (Vec<T>)((I)acc[r * cols_p + j] & keep);
      o[r * cols + j] = lane_sum<T, L>(reinterpret_cast<const T*>(&v));
    }
  }
}

// A task of packed tails: each seed's share of its weight gradient, its lanes moved to lanes
// 0..pack_tail and the rest zeroed (one permute and one mask), then summed as write_partial
// sums that seed's own tail block: the same vector, so the same numbers.
template <class T>
void write_packed(const Problem<T>& p, int64_t task, const Buffer<T>& acc, int cols_p) {
  using I = typename Simd<T>::I;
  constexpr int L = Simd<T>::lanes;
  const int cols = p.d.H + p.d.I + 1, tail = p.pack_tail, per = L / tail;
  I from[L], keep[L];  // per seed slot j: lane l reads lane j * tail + l, kept if l < tail
  for (int j = 0; j < per; ++j)
    for (int l = 0; l < L; ++l) from[j][l] = (j * tail + l) % L, keep[j][l] = l < tail ? ~0 : 0;
  T* o = p.partial + task * per * p.d.GR * cols;
  for (int r = 0; r < p.d.GR; ++r) {
    for (int c = 0; c < cols; ++c) {
      for (int j = 0; j < per; ++j) {
        const Vec<T> v = (Vec<T>)((I)__builtin_shuffle(acc[r * cols_p + c], from[j]) & keep[j]);
        o[(j * p.d.GR + r) * cols + c] = lane_sum<T, L>(reinterpret_cast<const T*>(&v));
      }
    }
  }
}

// Per task: the weight gradient from forward's checkpoints and the gradient of the output,
// each segment rerun forward in cache before walking back through it.
template <class T>
void backward_tasks(const Problem<T>& p, int64_t begin, int64_t end) {
  const Dims d = p.d;
  Segment<T> sg(d);
  Buffer<T> acc(sg.rows_p * sg.cols_p), dh(d.H), dc(d.H), dxv(d.I);
  for (int64_t task = begin; task < end; ++task) {
    const Weights<T> w = p.seed(task / p.blocks);
    const Seq<T> xs = p.strided(p.x, d.I, task, p.steps), dxs = p.strided(p.dx, d.I, task, p.steps);
    const Seq<T> gs = p.strided(p.grad, d.H, task, p.grad_all ? p.steps : 1);
    const Seq<T> ckh = p.checkpoints(p.ckpt_h, task), ckc = p.checkpoints(p.ckpt_c, task);
    std::fill(acc.begin(), acc.end(), Vec<T>{});
    std::fill(dc.begin(), dc.end(), Vec<T>{});
    for (int j = 0; j < d.H; ++j) dh[j] = gs.get(j, p.grad_all ? p.steps - 1 : 0);
    for (int64_t k = segments(p.steps) - 1; k >= 0; --k) {
      const int64_t t0 = k * kSegment;
      const int len = static_cast<int>(std::min<int64_t>(kSegment, p.steps - t0));
      for (int j = 0; j < d.H; ++j) sg.zs(0)[j] = ckh.get(j, k);
      for (int j = 0; j < d.H && p.ckpt_c; ++j) sg.cs(0, d.H)[j] = ckc.get(j, k);
      sg.load_inputs(d, xs, t0, len);
      for (int s = 0; s < kSegment && t0 >= kSegment; ++s) xs.prefetch(d.I, t0 - kSegment + s);
      segment_forward(d, w, len, true, sg);
      segment_backward(p, w, t0, len, sg, sg.g.data(), gs, dxs, dh.data(), dc.data(), dxv.data(),
                       acc.data());
    }
    write_partial(p, task, acc, sg.cols_p);
  }
}

// Forward and backward of a layer whose loss reads only its last state, in one pass per task:
// the gradient of the last state is affine in it, dL/dh_T = A h_T + C (A: head_a (K, H, H),
// C: head_c (K, H, N); for a linear head under a mean squared error, see head.h), so a task
// can walk back as soon as its forward pass ends, while the segments it kept are still in
// cache: the last `kept` segments keep every step's buffers (no rerun), the earlier ones only
// a checkpoint and are rerun as in backward_tasks. Writes h_T into out (K, H, N).
template <class T, class A = T>
void train_tasks(const Problem<T>& p, const A* head_a, const T* head_c, int64_t kept,
                 int64_t begin, int64_t end) {
  const Dims d = p.d;
  const int64_t nseg = segments(p.steps);
  kept = std::min(kept, nseg);
  Segment<T> scratch(d);
  std::vector<Segment<T>> keep;
  keep.reserve(kept);
  for (int64_t k = 0; k < kept; ++k) keep.emplace_back(d, false);
  Buffer<T> acc(scratch.rows_p * scratch.cols_p), dh(d.H), dc(d.H), dxv(d.I);
  Buffer<T> ckpt(nseg * 2 * d.H);  // per segment: h, c entering it
  for (int64_t task = begin; task < end; ++task) {
    const int64_t seed = task / p.blocks;
    const Weights<T> w = p.seed(seed);
    const Seq<T> xs = p.strided(p.x, d.I, task, p.steps), dxs = p.strided(p.dx, d.I, task, p.steps);
    const Seq<T> hs = p.strided(p.out, d.H, task, 1), cs = p.strided(head_c, d.H, task, 1);
    std::fill(scratch.zs(0), scratch.zs(0) + d.H, Vec<T>{});  // h_{-1} = c_{-1} = 0
    std::fill(scratch.cs(0, d.H), scratch.cs(1, d.H), Vec<T>{});
    const Vec<T>*h = scratch.zs(0), *c = scratch.cs(0, d.H);  // the state entering segment k
    for (int64_t k = 0; k < nseg; ++k) {
      const int64_t t0 = k * kSegment;
      const int len = static_cast<int>(std::min<int64_t>(kSegment, p.steps - t0));
      Vec<T>* saved = ckpt.data() + k * 2 * d.H;
      std::copy_n(h, d.H, saved), std::copy_n(c, d.H, saved + d.H);
      const bool kept_k = k >= nseg - kept;
      Segment<T>& sg = kept_k ? keep[k - (nseg - kept)] : scratch;
      std::copy_n(saved, d.H, sg.zs(0)), std::copy_n(saved + d.H, d.H, sg.cs(0, d.H));
      sg.load_inputs(d, xs, t0, len);
      segment_forward(d, w, len, kept_k, sg);
      h = sg.zs(len), c = sg.cs(len, d.H);
    }
    for (int j = 0; j < d.H; ++j) hs.put(j, 0, h[j]);
    matvec<T, false>(head_a + seed * d.H * d.H, d.H, d.H, d.H, h, dh.data());  // A h_T
    for (int j = 0; j < d.H; ++j) dh[j] += cs.get(j, 0);                        // + C
    std::fill(acc.begin(), acc.end(), Vec<T>{});
    std::fill(dc.begin(), dc.end(), Vec<T>{});
    for (int64_t k = nseg - 1; k >= 0; --k) {
      const int64_t t0 = k * kSegment;
      const int len = static_cast<int>(std::min<int64_t>(kSegment, p.steps - t0));
      const bool kept_k = k >= nseg - kept;
      Segment<T>& sg = kept_k ? keep[k - (nseg - kept)] : scratch;
      if (!kept_k) {  // rerun it from its checkpoint
        const Vec<T>* saved = ckpt.data() + k * 2 * d.H;
        std::copy_n(saved, d.H, sg.zs(0)), std::copy_n(saved + d.H, d.H, sg.cs(0, d.H));
        sg.load_inputs(d, xs, t0, len);
        segment_forward(d, w, len, true, sg);
      }
      segment_backward(p, w, t0, len, sg, scratch.g.data(), Seq<T>{}, dxs, dh.data(),
                       dc.data(), dxv.data(), acc.data());  // (no gradient of other states)
    }
    if constexpr (std::is_same_v<A, T>)
      write_partial(p, task, acc, scratch.cols_p);
    else
      write_packed(p, task, acc, scratch.cols_p);
  }
}

}  // namespace rnnfused
