// Fused forward and backward-through-time of one stacked-seed recurrent layer on the CPU: the
// torch side (checks, weight layout, threads, the gradient reduction). The maths is in
// cells.h and vecmath.h, the loops over time in layer.h.
//
// Design (timings: benchmarks/trainer.py on the 2-core AVX-512 and AVX2 EPYC machines):
// - Tasks of (seed, block of one SIMD vector of samples), each through all T steps; tasks run
//   on torch's threads (at::parallel_for, torch.get_num_threads()). train_last packs the seeds'
//   part-filled last blocks into shared vectors (pack.h): minibatches of 50 are 1.06-1.1x.
// - Forward keeps a checkpoint of the state every kSegment steps; backward reruns each segment
//   forward from it in L2 and walks back through it (layer.h): memory and traffic stay small.
// - Determinism: a task's arithmetic does not depend on which thread runs it or on the other
//   seeds; lanes are summed in order and blocks in order per seed, so results do not depend
//   on the thread count. Workers get the caller's floating-point control word (torch's
//   flush-denormal setting lives there).
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <chrono>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "head.h"
#include "layer.h"
#include "layout.h"
#include "pack.h"

namespace rnnfused {
namespace {

using at::Tensor;

// The caller's MXCSR (flush-to-zero, denormals-are-zero) inside a worker thread.
struct FloatEnv {
#if defined(__SSE__)
  unsigned saved;
  explicit FloatEnv(unsigned wanted) : saved(_mm_getcsr()) { _mm_setcsr(wanted); }
  ~FloatEnv() { _mm_setcsr(saved); }
  static unsigned current() { return _mm_getcsr(); }
#else
  explicit FloatEnv(unsigned) {}
  static unsigned current() { return 0; }
#endif
};

template <class F>
void run_tasks(int64_t tasks, const F& body) {
  const unsigned csr = FloatEnv::current();
  at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
    FloatEnv env(csr);
    body(begin, end);
  });
}


// The weights in kernel layout for all seeds (layout.h): one buffer holding the step matrices
// (K, GR, ZC), then W_hh^T (K, H, GH), then W_ih^T (K, I, GH), each value repeated `lanes`
// times (see Weight).
struct Prepared {
  Dims d;
  int64_t lanes;
  Tensor buf;
};

Prepared prepare(int64_t cell, bool relu, const Tensor& x, Tensor w_ih, Tensor w_hh,
                 Tensor b_ih, Tensor b_hh) {
  TORCH_CHECK(x.device().is_cpu(), "the fused kernel runs on the CPU");
  TORCH_CHECK(x.dim() == 4 && x.size(2) > 0, "x must be (K, I, T, N) with T >= 1");
  TORCH_CHECK(cell >= 0 && cell < kCells, "unknown cell id ", cell);
  TORCH_CHECK(w_hh.dim() == 3 && w_ih.dim() == 3, "weights must be (K, G*H, .)");
  const int64_t K = x.size(0);
  const int H = w_hh.size(2), I = w_ih.size(2), GH = kCellGates[cell] * H;
  TORCH_CHECK(w_hh.size(1) == GH && w_ih.size(1) == GH && I == x.size(1) &&
                  w_hh.size(0) == K && w_ih.size(0) == K,
              "weights do not match the cell or the input");
  TORCH_CHECK(b_ih.sizes() == at::IntArrayRef({K, GH}) && b_hh.sizes() == b_ih.sizes(),
              "biases must be (K, G*H)");
  for (const Tensor* t : {&w_ih, &w_hh, &b_ih, &b_hh}) {
    TORCH_CHECK(t->scalar_type() == x.scalar_type(), "x and the weights differ in dtype");
    TORCH_CHECK(t->device().is_cpu(), "the weights must be on the CPU, as x");
  }
  w_ih = w_ih.contiguous(), w_hh = w_hh.contiguous();
  b_ih = b_ih.contiguous(), b_hh = b_hh.contiguous();
  Prepared p;
  p.d = {static_cast<int>(cell), relu, H, I, GH, cell == kGRU ? 4 * H : GH, round4(H + I + 1)};
  p.lanes = kRepeatWeights ? kVecBytes / x.element_size() : 1;
  p.buf = x.new_empty({K * (p.d.GR * p.d.ZC + (H + I) * GH) * p.lanes});
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_prepare", [&] {
    using T = scalar_t;
    T* w = p.buf.data_ptr<T>();
    T* whh_t = w + K * p.d.GR * p.d.ZC * p.lanes;
    fill_weights<T>(p.d, K, p.lanes, w_ih.data_ptr<T>(), w_hh.data_ptr<T>(),
                    b_ih.data_ptr<T>(), b_hh.data_ptr<T>(), w, whh_t,
                    whh_t + K * H * GH * p.lanes);
  });
  return p;
}

template <class T>
Problem<T> problem(const Prepared& p, const Tensor& x) {
  const int64_t lanes = Simd<T>::lanes, K = x.size(0), N = x.size(3);
  const T* w = p.buf.data_ptr<T>();
  const T* whh_t = w + K * p.d.GR * p.d.ZC * p.lanes;
  return {p.d, K, x.size(2), N, (N + lanes - 1) / lanes, w, whh_t,
          whh_t + K * p.d.H * p.d.GH * p.lanes, x.data_ptr<T>()};
}

template <class T>
T* ptr(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}

}  // namespace

// x (K, I, T, N) -> {out, ckpt_h, ckpt_c}: out holds all states (K, H, T, N) if all_states,
// else the last (K, H, N). With save (a backward pass will follow) the checkpoints that backward
// restarts from, (K * blocks, segments, H, lanes): h, and c for the LSTM; else empty.
std::vector<Tensor> forward(int64_t cell, Tensor x, Tensor w_ih, Tensor w_hh, Tensor b_ih,
                            Tensor b_hh, bool relu, bool all_states, bool save) {
  x = x.contiguous();
  const Prepared p = prepare(cell, relu, x, w_ih, w_hh, b_ih, b_hh);
  const int64_t K = x.size(0), steps = x.size(2), N = x.size(3), H = p.d.H;
  const int64_t lanes = kVecBytes / x.element_size(), blocks = (N + lanes - 1) / lanes;
  const std::vector<int64_t> ckpt{K * blocks, segments(steps), H, lanes};
  Tensor out = all_states ? x.new_empty({K, H, steps, N}) : x.new_empty({K, H, N});
  Tensor ckpt_h = save ? x.new_empty(ckpt) : x.new_empty({0});
  Tensor ckpt_c = save && cell == kLSTM ? x.new_empty(ckpt) : x.new_empty({0});
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_forward", [&] {
    Problem<scalar_t> pr = problem<scalar_t>(p, x);
    pr.out = out.data_ptr<scalar_t>(), pr.all_states = all_states;
    pr.ckpt_h = ptr<scalar_t>(ckpt_h), pr.ckpt_c = ptr<scalar_t>(ckpt_c);
    run_tasks(K * blocks, [&](int64_t b, int64_t e) { forward_tasks(pr, b, e); });
  });
  return {out, ckpt_h, ckpt_c};
}

// The per-task weight gradients (K, blocks, GR, H + I + 1) summed per seed in a fixed order
// (layout.h) into {dw_ih, dw_hh, db_ih, db_hh}.
template <class T>
std::vector<Tensor> weight_grads(const Dims& d, const Tensor& partial) {
  const int64_t K = partial.size(0);
  std::vector<Tensor> grads = {partial.new_empty({K, d.GH, d.I}),
                               partial.new_empty({K, d.GH, d.H}),
                               partial.new_empty({K, d.GH}), partial.new_empty({K, d.GH})};
  split_grads<T>(d, K, partial.size(1), partial.data_ptr<T>(), grads[0].data_ptr<T>(),
                 grads[1].data_ptr<T>(), grads[2].data_ptr<T>(), grads[3].data_ptr<T>());
  return grads;
}

// Gradients {dx (or empty), dw_ih, dw_hh, db_ih, db_hh} from forward's checkpoints and the
// gradient of the layer's output: (K, H, T, N) if grad_all, else (K, H, N).
std::vector<Tensor> backward(int64_t cell, Tensor x, Tensor w_ih, Tensor w_hh, Tensor b_ih,
                             Tensor b_hh, bool relu, Tensor ckpt_h, Tensor ckpt_c, Tensor grad,
                             bool grad_all, bool need_dx) {
  x = x.contiguous(), grad = grad.contiguous();
  const Prepared p = prepare(cell, relu, x, w_ih, w_hh, b_ih, b_hh);
  const Dims d = p.d;
  const int64_t K = x.size(0), N = x.size(3), H = d.H, I = d.I;
  const int64_t lanes = kVecBytes / x.element_size(), blocks = (N + lanes - 1) / lanes;
  const std::vector<int64_t> ckpt{K * blocks, segments(x.size(2)), H, lanes};
  TORCH_CHECK(ckpt_h.sizes().vec() == ckpt && ckpt_h.is_contiguous(), "bad checkpoints");
  TORCH_CHECK(cell != kLSTM || (ckpt_c.sizes().vec() == ckpt && ckpt_c.is_contiguous()),
              "bad cell checkpoints");
  Tensor dx = need_dx ? at::empty_like(x) : x.new_empty({0});
  Tensor partial = x.new_empty({K, blocks, d.GR, H + I + 1});
  std::vector<Tensor> grads;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_backward", [&] {
    Problem<scalar_t> pr = problem<scalar_t>(p, x);
    pr.ckpt_h = ptr<scalar_t>(ckpt_h), pr.ckpt_c = ptr<scalar_t>(ckpt_c);
    pr.grad = grad.data_ptr<scalar_t>(), pr.grad_all = grad_all;
    pr.dx = ptr<scalar_t>(dx), pr.partial = partial.data_ptr<scalar_t>();
    run_tasks(K * blocks, [&](int64_t b, int64_t e) { backward_tasks(pr, b, e); });
    grads = weight_grads<scalar_t>(d, partial);
  });
  grads.insert(grads.begin(), dx);
  return grads;
}

// train_last's tasks with the seeds' tails packed (pack.h): the full blocks as usual, then
// the packs as a problem of their own (per-lane copies of weights, A, C and inputs), their
// outputs scattered back and the partials merged into pr's.
template <class T>
void train_packed(const Problem<T>& pr, const TailPacks& tp, bool need_dx, const T* a,
                  const T* c, int64_t kept) {
  const Dims& d = pr.d;
  const int64_t K = pr.K, steps = pr.steps, L = tp.lanes, size = d.GR * (d.H + d.I + 1);
  const int64_t sizes[3] = {d.GR * d.ZC, d.H * d.GH, d.I * d.GH};
  std::vector<T> blocks(K * tp.full * size), packed(tp.packs * tp.per * size);
  // (vectors, so aligned: the kernel reads weights and A as Vec<T>)
  Buffer<T> wv((sizes[0] + sizes[1] + sizes[2]) * tp.packs), av(tp.packs * d.H * d.H);
  T* w[3];  // the packs' three weight regions, laid out as fill_weights lays out the seeds'
  w[0] = reinterpret_cast<T*>(wv.data()), w[1] = w[0] + tp.packs * sizes[0] * L;
  w[2] = w[1] + tp.packs * sizes[1] * L;
  std::vector<T> px(tp.packs * d.I * steps * L), pc(tp.packs * d.H * L), pout(tp.packs * d.H * L);
  std::vector<T> pdx(need_dx ? px.size() : 0);
  Problem<T> full = pr;
  full.blocks = tp.full, full.partial = blocks.data();
  run_tasks(K * tp.full, [&](int64_t b, int64_t e) { train_tasks(full, a, c, kept, b, e); });
  const T* seeds[3] = {pr.w, pr.whh_t, pr.wih_t};
  for (int i = 0; i < 3; ++i) tp.per_lane(seeds[i], sizes[i], L, w[i]);
  tp.per_lane(a, d.H * d.H, 1, reinterpret_cast<T*>(av.data()));
  tp.gather(pr.x, d.I, steps, px.data());
  tp.gather(c, d.H, 1, pc.data());
  Problem<T> pk{d, tp.packs, steps, L, 1, w[0], w[1], w[2], px.data()};
  pk.out = pout.data(), pk.dx = need_dx ? pdx.data() : nullptr, pk.partial = packed.data();
  pk.pack_tail = tp.tail;
  const Vec<T>* pa = av.data();
  const T* pcs = pc.data();
  run_tasks(tp.packs, [&](int64_t b, int64_t e) { train_tasks(pk, pa, pcs, kept, b, e); });
  tp.scatter(pout.data(), d.H, 1, pr.out);
  if (need_dx) tp.scatter(pdx.data(), d.I, steps, pr.dx);
  tp.merge(blocks.data(), packed.data(), size, pr.partial);
}

// Bytes of cache that train_last's kept segments may take per thread: most of a 512 KB L2
// (hidden 10, one input: an LSTM keeps 128 steps with AVX2's vectors, 64 with AVX-512's).
constexpr int64_t kKeepBytes = 320 * 1024;

// Each seed's mean squared error of a linear head (head_w (K, O, H), head_b (K, O)) on the last
// state of a top layer, targets y (K, N, O), with every gradient, in one pass: under a squared
// error the gradient of the last state is affine in it, dL/dh_T = A h_T + C (head.h), so
// train_tasks walks each block back right after its forward pass. Returns {losses (K), dx (or
// empty), dw_ih, dw_hh, db_ih, db_hh, dhead_w, dhead_b}. kept: segments of 16 steps kept whole
// per task (the rest are rerun from checkpoints); -1: as many as fit in kKeepBytes. pack: the
// seeds' part-filled last blocks share vectors where that saves some (pack.h).
std::vector<Tensor> train_last(int64_t cell, Tensor x, Tensor w_ih, Tensor w_hh, Tensor b_ih,
                               Tensor b_hh, bool relu, Tensor head_w, Tensor head_b, Tensor y,
                               bool need_dx, int64_t kept, bool pack) {
  x = x.contiguous(), head_w = head_w.contiguous(), head_b = head_b.contiguous();
  y = y.contiguous();
  const Prepared p = prepare(cell, relu, x, w_ih, w_hh, b_ih, b_hh);
  const Dims d = p.d;
  const int64_t K = x.size(0), N = x.size(3), H = d.H, I = d.I, O = head_w.size(1);
  TORCH_CHECK(head_w.dim() == 3 && head_w.size(0) == K && head_w.size(2) == H,
              "head_w must be (K, O, H)");
  TORCH_CHECK(head_b.sizes() == at::IntArrayRef({K, O}), "head_b must be (K, O)");
  TORCH_CHECK(y.sizes() == at::IntArrayRef({K, N, O}), "y must be (K, N, O)");
  for (const Tensor* t : {&head_w, &head_b, &y}) {
    TORCH_CHECK(t->scalar_type() == x.scalar_type(), "x, the head and y differ in dtype");
    TORCH_CHECK(t->device().is_cpu(), "the head and y must be on the CPU, as x");
  }
  const int64_t lanes = kVecBytes / x.element_size(), blocks = (N + lanes - 1) / lanes;
  const HeadDims hd{K, O, H, N};
  Tensor head_a = x.new_empty({K, H, H}), head_c = x.new_empty({K, H, N});
  Tensor last = x.new_empty({K, H, N}), losses = x.new_empty({K});
  Tensor dhead_w = at::empty_like(head_w), dhead_b = at::empty_like(head_b);
  Tensor dx = need_dx ? at::empty_like(x) : x.new_empty({0});
  Tensor partial = x.new_empty({K, blocks, d.GR, H + I + 1});
  std::vector<Tensor> grads;
  const TailPacks tp(K, N, lanes, pack);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_train_last", [&] {
    using T = scalar_t;
    const T *hw = head_w.data_ptr<T>(), *hb = head_b.data_ptr<T>(), *hy = y.data_ptr<T>();
    head_terms<T>(hd, hw, hb, hy, head_a.data_ptr<T>(), head_c.data_ptr<T>());
    Problem<T> pr = problem<T>(p, x);
    pr.out = last.data_ptr<T>();
    pr.dx = ptr<T>(dx), pr.partial = partial.data_ptr<T>();
    const T *a = head_a.data_ptr<T>(), *c = head_c.data_ptr<T>();
    if (kept < 0) kept = kKeepBytes / Segment<T>::forward_bytes(d);
    if (!tp.packs) {
      run_tasks(K * blocks, [&](int64_t b, int64_t e) { train_tasks(pr, a, c, kept, b, e); });
    } else if constexpr (kRepeatWeights) {
      train_packed(pr, tp, need_dx, a, c, kept);
    }
    grads = weight_grads<T>(d, partial);
    head_loss<T>(hd, hw, hb, hy, pr.out, losses.data_ptr<T>(), dhead_w.data_ptr<T>(),
                 dhead_b.data_ptr<T>());
  });
  grads.insert(grads.begin(), dx);
  grads.insert(grads.begin(), losses);
  grads.push_back(dhead_w);
  grads.push_back(dhead_b);
  return grads;
}

// Peak FMA throughput (GFLOP/s) of this CPU on torch's threads, with the kernel's vectors: 12
// independent FMA chains per thread, `iters` rounds each (the benchmark's roofline).
double fma_gflops(int64_t iters) {
  using V = Vec<float>;
  const int threads = at::get_num_threads();
  std::vector<float> sink(threads, 0.f);
  const auto start = std::chrono::steady_clock::now();
  at::parallel_for(0, threads, 1, [&](int64_t b, int64_t e) {
    for (int64_t th = b; th < e; ++th) {
      V acc[12];
      for (int i = 0; i < 12; ++i) acc[i] = splat(1.0f + i * 1e-3f);
      const V m = splat(0.999999f), c = splat(1e-7f);
      for (int64_t it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) acc[i] = acc[i] * m + c;
      for (int i = 0; i < 12; ++i) sink[th] += acc[i][0];
    }
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sink[0] == 12345.f ? 0 : 2.0 * 12 * Simd<float>::lanes * iters * threads / seconds / 1e9;
}

}  // namespace rnnfused

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &rnnfused::forward, "one recurrent layer forward (fused)");
  m.def("backward", &rnnfused::backward, "its backward pass through time (fused)");
  m.def("train_last", &rnnfused::train_last, "forward and backward, MSE of a head on h_T");
  m.def("fma_gflops", &rnnfused::fma_gflops, "peak FMA throughput, GFLOP/s");
  m.def(
      "tail_packs",
      [](int64_t K, int64_t N, int64_t element_size) {
        return rnnfused::TailPacks(K, N, rnnfused::kVecBytes / element_size).packs;
      },
      "vectors that train_last packs the K seeds' tails of N samples into (0: none)");
}
