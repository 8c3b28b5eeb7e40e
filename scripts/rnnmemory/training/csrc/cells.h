// One time step of an RNN, GRU or LSTM layer, forward and backward, on a block of samples.
//
// A block is one SIMD vector of samples (8 floats or 4 doubles with AVX2, twice that with
// AVX-512; vecmath.h): every quantity of one hidden
// unit, gate or input is a Vec<T> over the block, so the gate math is one pass of vector ops
// and the matmuls are FMAs of one weight with a vector. The maths is torch.nn's (and
// bptt.py's): gate orders GRU (r, z, n) with b_hn inside r * (W_hn h + b_hn), LSTM (i, f, g, o).
//
// Each step multiplies a step matrix W (GR rows, ZC columns) with z = [h_{t-1}; x_t; 1; 0..]:
// RNN, LSTM: W = [W_hh | W_ih | b_ih + b_hh] (GR = GH = gates x H rows); GRU: the rows
// [r, z | W_hn h + b_hn | W_in x + b_in] (GR = 4H, zeros where a row does not read h or x),
// as in bptt.step_matrix. The bias column and the zero padding (ZC a multiple of 4) keep the
// matvec free of remainder loops. The gate-gradient rows g are the gradients of W z.
#pragma once

#include <type_traits>

#include "cell_ids.h"  // generated from archs.CELLS by fused.py: enum Cell, kCellGates
#include "vecmath.h"

namespace rnnfused {

inline int round_up(int v, int m) { return (v + m - 1) / m * m; }
inline int round4(int v) { return round_up(v, 4); }

struct Dims {
  int cell;  // a Cell of cell_ids.h
  bool relu;
  int H, I;  // hidden and input size
  int GH;    // rows of W_ih and W_hh: gates * H
  int GR;    // rows of the step matrix (GRU 4H, else GH)
  int ZC;    // its columns: H + I + 1 rounded up to a multiple of 4
};

// One seed's weights in the kernel's layout (fused.cpp builds them once per call). With AVX2
// each weight is repeated across a vector, so an FMA reads it as a plain vector operand:
// broadcasting it from one scalar costs an extra shuffle op per FMA, which competes with the
// FMAs for the same ports (1.12-1.18x per train_last call on the AVX2 EPYC, bit-equal).
// AVX-512's FMAs broadcast a scalar memory operand at no cost, and repeated weights would be
// 16x larger there (59 KB per seed for a hidden-10 LSTM, more than Zen 4's L1): scalars.
#if defined(__AVX512F__)
constexpr bool kRepeatWeights = false;
#else
constexpr bool kRepeatWeights = true;
#endif

template <class T>
using Weight = std::conditional_t<kRepeatWeights, Vec<T>, T>;

template <class T>
struct Weights {
  const Weight<T>* w;      // (GR, ZC): the step matrix
  const Weight<T>* whh_t;  // (H, GH): W_hh transposed
  const Weight<T>* wih_t;  // (I, GH): W_ih transposed
};

// R rows of matvec: two partial sums per row (even and odd j) halve the FMA chains, which
// matters for W_hh^T g (40 terms per row for the LSTM: 160 cycles of latency in one chain).
// Add: out += W in, else out = W in. W: the weights' type, T (a scalar broadcast per FMA) or
// Vec<T> (repeated weights, see Weight).
template <class T, int R, bool Add, int Cols = 0, class W = T>
inline void matvec_rows(const W* w, int ld, int cols_, const Vec<T>* in, Vec<T>* out) {
  const int cols = Cols ? Cols : cols_;  // a compile-time count unrolls the loop
  Vec<T> acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = Add ? out[r] : Vec<T>{}, acc[r][1] = Vec<T>{};
  int j = 0;
  for (; j + 2 <= cols; j += 2) {
    const Vec<T> v0 = in_reg<T>(in[j]), v1 = in_reg<T>(in[j + 1]);
    for (int r = 0; r < R; ++r) {
      acc[r][0] += w[r * ld + j] * v0;
      acc[r][1] += w[r * ld + j + 1] * v1;
    }
  }
  if (j < cols)
    for (int r = 0; r < R; ++r) acc[r][0] += w[r * ld + j] * in[j];
  for (int r = 0; r < R; ++r) out[r] = acc[r][0] + acc[r][1];
}

// out[r] (+)= sum_j w[r * ld + j] * in[j] for r < rows, j < cols; four rows at a time, so one
// load of in[j] serves four FMAs.
template <class T, bool Add = true, int Cols = 0, class W = T>
inline void matvec(const W* w, int ld, int rows, int cols, const Vec<T>* in, Vec<T>* out) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) matvec_rows<T, 4, Add, Cols>(w + r * ld, ld, cols, in, out + r);
  if (rows - r == 3) matvec_rows<T, 3, Add, Cols>(w + r * ld, ld, cols, in, out + r);
  if (rows - r == 2) matvec_rows<T, 2, Add, Cols>(w + r * ld, ld, cols, in, out + r);
  if (rows - r == 1) matvec_rows<T, 1, Add, Cols>(w + r * ld, ld, cols, in, out + r);
}

// f(std::integral_constant<int, n>) for the step-matrix widths of hidden-10 (and -12, -21)
// networks, else f(integral_constant<0>), a runtime width. A compile-time width unrolls the
// gates' matvec: 12% faster per epoch, measured (for W_hh^T g it made no difference).
template <class F>
inline void with_width(int n, const F& f) {
  switch (n) {
    case 12: return f(std::integral_constant<int, 12>{});
    case 16: return f(std::integral_constant<int, 16>{});
    case 24: return f(std::integral_constant<int, 24>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

// Gate activations a (GR rows) from z = [h_{t-1}; x_t; 1; 0..]; for the GRU also the
// candidate n (H). The RNN's activation is left to the caller (it differs forward and back).
template <class T>
inline void gates(const Dims& d, const Weights<T>& w, const Vec<T>* z, Vec<T>* a, Vec<T>* n) {
  const int H = d.H;
  // the GRU's rows W_in x + b_in read only x and the bias: a matvec of their own skips their
  // zero columns of h (bit-equal: the skipped terms are exact zeros for a finite state)
  const int full_rows = d.cell == kGRU ? 3 * H : d.GR;
  with_width(d.ZC, [&](auto cols) {
    matvec<T, false, decltype(cols)::value>(w.w, d.ZC, full_rows, d.ZC, z, a);
  });
  if (d.cell == kGRU) {
    matvec<T, false>(w.w + 3 * H * d.ZC + H, d.ZC, H, d.I + 1, z + H, a + 3 * H);
    for (int r = 0; r < 2 * H; ++r) a[r] = sigmoid<T>(a[r]);
    for (int j = 0; j < H; ++j) n[j] = tanh_<T>(a[3 * H + j] + a[j] * a[2 * H + j]);
  } else if (d.cell == kLSTM) {
    for (int r = 0; r < 2 * H; ++r) a[r] = sigmoid<T>(a[r]);  // i, f
    for (int r = 2 * H; r < 3 * H; ++r) a[r] = tanh_<T>(a[r]);  // g
    for (int r = 3 * H; r < 4 * H; ++r) a[r] = sigmoid<T>(a[r]);  // o
  }
}

// One step forward: z = [h_{t-1}; x_t] -> h_t (into h), c_prev = c_{t-1} -> c_t (into c, LSTM).
// Keeps what the backward step needs: the gate activations a (GR rows) and aux (H rows: the
// GRU's candidate n, the LSTM's tanh(c_t)).
template <class T>
inline void step_forward(const Dims& d, const Weights<T>& w, const Vec<T>* z, Vec<T>* h,
                         const Vec<T>* c_prev, Vec<T>* c, Vec<T>* a, Vec<T>* aux) {
  const int H = d.H;
  gates(d, w, z, a, aux);
  if (d.cell == kRNN) {
    const Vec<T> zero{};
    for (int j = 0; j < H; ++j) h[j] = d.relu ? (a[j] < T(0) ? zero : a[j]) : tanh_<T>(a[j]);
  } else if (d.cell == kGRU) {
    for (int j = 0; j < H; ++j) h[j] = aux[j] + a[H + j] * (z[j] - aux[j]);  // n + z (h - n)
  } else {
    for (int j = 0; j < H; ++j) {
      c[j] = a[H + j] * c_prev[j] + a[j] * a[2 * H + j];  // f c + i g
      aux[j] = tanh_<T>(c[j]);
      h[j] = a[3 * H + j] * aux[j];
    }
  }
}

// Gradients of step t: from dh = dL/dh_t (and dc = dL/dc_t, LSTM), z = [h_{t-1}; x_t], the
// step's output h = h_t and what step_forward kept (a, aux, c_prev = c_{t-1}) to the
// gate-gradient rows g. On exit dh holds the part of dL/dh_{t-1} that does not pass through
// W_hh (the GRU's z * dh, else zero) and dc = dL/dc_{t-1}.
template <class T>
inline void step_backward(const Dims& d, const Vec<T>* z, const Vec<T>* h, const Vec<T>* a,
                          const Vec<T>* aux, const Vec<T>* c_prev, Vec<T>* dh, Vec<T>* dc,
                          Vec<T>* g) {
  const int H = d.H;
  const Vec<T> zero{};
  if (d.cell == kRNN) {  // relu: no gradient where h is 0 (or NaN), as torch's relu
    for (int j = 0; j < H; ++j) {
      g[j] = d.relu ? (h[j] > T(0) ? dh[j] : zero) : dh[j] * (T(1) - h[j] * h[j]);
      dh[j] = zero;
    }
  } else if (d.cell == kGRU) {
    for (int j = 0; j < H; ++j) {
      const Vec<T> r = a[j], u = a[H + j], ghn = a[2 * H + j], n = aux[j];
      const Vec<T> dn = dh[j] * (T(1) - u) * (T(1) - n * n);  // through tanh
      g[j] = dn * ghn * r * (T(1) - r);
      g[H + j] = dh[j] * (z[j] - n) * u * (T(1) - u);
      g[2 * H + j] = dn * r;
      g[3 * H + j] = dn;
      dh[j] = dh[j] * u;
    }
  } else {
    for (int j = 0; j < H; ++j) {
      const Vec<T> i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], tc = aux[j];
      const Vec<T> dct = dc[j] + dh[j] * o * (T(1) - tc * tc);
      g[j] = dct * gg * i * (T(1) - i);
      g[H + j] = dct * c_prev[j] * f * (T(1) - f);
      g[2 * H + j] = dct * i * (T(1) - gg * gg);
      g[3 * H + j] = dh[j] * tc * o * (T(1) - o);
      dc[j] = dct * f;
      dh[j] = zero;
    }
  }
}

// dx = W_ih^T (gate gradients of the input part) into dx (I rows).
template <class T>
inline void input_grad(const Dims& d, const Weights<T>& w, const Vec<T>* g, Vec<T>* dx) {
  for (int i = 0; i < d.I; ++i) dx[i] = Vec<T>{};
  if (d.cell == kGRU) {  // rows r, z and W_in x: g[0:2H] and g[3H:4H]
    matvec<T>(w.wih_t, d.GH, d.I, 2 * d.H, g, dx);
    matvec<T>(w.wih_t + 2 * d.H, d.GH, d.I, d.H, g + 3 * d.H, dx);
  } else {
    matvec<T>(w.wih_t, d.GH, d.I, d.GH, g, dx);
  }
}

// acc[r][j] += sum_s g[s][r] * z[s][j] over a chunk of steps (lane by lane): the weight
// gradient's outer products, as register tiles of kTileRows x 4 so each loaded vector serves
// several FMAs. The tile, its loads included, must fit the CPU's vector registers: 4 x 4 (24
// registers) with AVX-512's 32; with AVX2's 16 a 4 x 4 tile spills to memory every step, so
// 2 x 4 (14). rows are a multiple of kTileRows and cols of 4 (the buffers are zero-padded:
// padding rows to 4 on AVX2 cost an RNN of hidden 10 a sixth more FMAs here).
#if defined(__AVX512F__)
constexpr int kTileRows = 4;
#else
constexpr int kTileRows = 2;
#endif

// Rows from `tail` on (a multiple of kTileRows) need only the columns from `tail_col` on (a
// multiple of 4): the GRU's W_in rows, whose columns of h are zero (their accumulators stay 0).
template <class T>
inline void accumulate_outer(const Vec<T>* g, const Vec<T>* z, int steps, int rows, int cols,
                             Vec<T>* acc, int tail, int tail_col) {
  constexpr int TR = kTileRows, TC = 4;
  for (int r0 = 0; r0 < rows; r0 += TR) {
    for (int j0 = r0 < tail ? 0 : tail_col; j0 < cols; j0 += TC) {
      Vec<T> t[TR][TC];
      for (int r = 0; r < TR; ++r)
        for (int j = 0; j < TC; ++j) t[r][j] = acc[(r0 + r) * cols + j0 + j];
      for (int s = 0; s < steps; ++s) {
        Vec<T> gs[TR], zs[TC];
        for (int r = 0; r < TR; ++r) gs[r] = in_reg<T>(g[s * rows + r0 + r]);
        for (int j = 0; j < TC; ++j) zs[j] = in_reg<T>(z[s * cols + j0 + j]);
        for (int r = 0; r < TR; ++r)
          for (int j = 0; j < TC; ++j) t[r][j] += gs[r] * zs[j];
      }
      for (int r = 0; r < TR; ++r)
        for (int j = 0; j < TC; ++j) acc[(r0 + r) * cols + j0 + j] = t[r][j];
    }
  }
}

}  // namespace rnnfused
