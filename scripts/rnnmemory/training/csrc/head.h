// The linear head and its mean squared error, for train_last (torch-free loops; the sizes are
// tiny: O outputs, H hidden units, N samples per seed). Per seed k, on the last states h_n:
//   L = 1/(N O) sum_n |W h_n + b - y_n|^2,  s = 2 / (N O),
//   dL/dh_n = A h_n + C_n with A = s W^T W and C_n = s W^T (b - y_n)   (head_terms, before the
//   recurrent kernel runs: it needs them to walk back right after its forward pass),
//   dL/dW = s sum_n r_n h_n^T and dL/db = s sum_n r_n, r_n = W h_n + b - y_n   (head_loss).
// Sums over samples run in order in double: deterministic, and float32's rounding does not grow
// with N.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace rnnfused {

struct HeadDims {
  int64_t K, O, H, N;
  double scale() const { return 2.0 / static_cast<double>(N * O); }
};

// W (K, O, H), b (K, O), y (K, N, O) -> A (K, H, H), C (K, H, N).
template <class T>
void head_terms(const HeadDims& hd, const T* W, const T* b, const T* y, T* A, T* C) {
  const int64_t O = hd.O, H = hd.H, N = hd.N;
  const double s = hd.scale();
  for (int64_t k = 0; k < hd.K; ++k) {
    const T *w = W + k * O * H, *bk = b + k * O, *yk = y + k * N * O;
    for (int64_t i = 0; i < H; ++i) {
      for (int64_t j = 0; j < H; ++j) {
        double sum = 0;
        for (int64_t o = 0; o < O; ++o) sum += double(w[o * H + i]) * w[o * H + j];
        A[(k * H + i) * H + j] = T(s * sum);
      }
      for (int64_t n = 0; n < N; ++n) {
        double sum = 0;
        for (int64_t o = 0; o < O; ++o)
          sum += double(w[o * H + i]) * (double(bk[o]) - yk[n * O + o]);
        C[(k * H + i) * N + n] = T(s * sum);
      }
    }
  }
}

// The last states hT (K, H, N) -> each seed's loss (K), dW (K, O, H) and db (K, O).
template <class T>
void head_loss(const HeadDims& hd, const T* W, const T* b, const T* y, const T* hT, T* loss,
               T* dW, T* db) {
  const int64_t O = hd.O, H = hd.H, N = hd.N;
  const double s = hd.scale();
  std::vector<double> gw(O * H), gb(O);
  for (int64_t k = 0; k < hd.K; ++k) {
    const T *w = W + k * O * H, *bk = b + k * O, *yk = y + k * N * O, *h = hT + k * H * N;
    std::fill(gw.begin(), gw.end(), 0.0), std::fill(gb.begin(), gb.end(), 0.0);
    double total = 0;
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t o = 0; o < O; ++o) {
        double r = double(bk[o]) - yk[n * O + o];
        for (int64_t i = 0; i < H; ++i) r += double(w[o * H + i]) * h[i * N + n];
        total += r * r;
        gb[o] += r;
        for (int64_t i = 0; i < H; ++i) gw[o * H + i] += r * h[i * N + n];
      }
    }
    loss[k] = T(total / static_cast<double>(N * O));
    for (int64_t e = 0; e < O * H; ++e) dW[k * O * H + e] = T(s * gw[e]);
    for (int64_t o = 0; o < O; ++o) db[k * O + o] = T(s * gb[o]);
  }
}

}  // namespace rnnfused
