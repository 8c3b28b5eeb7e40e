// The weights in the kernel's layout, and the weight gradients back in torch's, as plain loops
// (torch-free). They used to be a score of ATen ops per call (narrow, copy_, expand,
// contiguous, cat): about 0.1 ms of fixed cost per train_last call, a tenth of a minibatch
// step of a small RNN; the lanes' repeats alone went through a slow strided copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cells.h"

namespace rnnfused {

// From torch's (K, GH, I) w_ih, (K, GH, H) w_hh, (K, GH) b_ih and b_hh (contiguous) to, per
// seed, the step matrix (GR, ZC) = [W_hh | W_ih | b_ih + b_hh | 0] (GRU: rows [r, z | W_hn h +
// b_hn | W_in x + b_in], see cells.h), W_hh^T (H, GH) and W_ih^T (I, GH); every value written
// `lanes` times in a row (see Weight).
template <class T>
void fill_weights(const Dims& d, int64_t K, int lanes, const T* w_ih, const T* w_hh,
                  const T* b_ih, const T* b_hh, T* w, T* whh_t, T* wih_t) {
  const int H = d.H, I = d.I, GH = d.GH;
  auto put = [lanes](T* dst, int64_t index, T value) {
    for (int l = 0; l < lanes; ++l) dst[index * lanes + l] = value;
  };
  for (int64_t k = 0; k < K; ++k) {
    const T *wi = w_ih + k * GH * I, *wh = w_hh + k * GH * H;
    const T *bi = b_ih + k * GH, *bh = b_hh + k * GH;
    T* wk = w + k * d.GR * d.ZC * lanes;
    for (int r = 0; r < d.GR; ++r) {
      // the torch row this step-matrix row reads, and which parts: GRU rows 2H..3H read only
      // h (W_hn, b_hn), rows 3H..4H only x (torch's rows 2H..3H of W_in, b_in)
      const bool n_h = d.cell == kGRU && r >= 2 * H && r < 3 * H;
      const bool n_x = d.cell == kGRU && r >= 3 * H;
      const int src = n_x ? r - H : r;
      for (int c = 0; c < d.ZC; ++c) {
        T value = T(0);
        if (c < H && !n_x)
          value = wh[src * H + c];
        else if (c >= H && c < H + I && !n_h)
          value = wi[src * I + c - H];
        else if (c == H + I)
          value = n_h ? bh[src] : n_x ? bi[src] : bi[src] + bh[src];
        put(wk, static_cast<int64_t>(r) * d.ZC + c, value);
      }
    }
    for (int j = 0; j < H; ++j)
      for (int r = 0; r < GH; ++r) put(whh_t + k * H * GH * lanes, j * GH + r, wh[r * H + j]);
    for (int i = 0; i < I; ++i)
      for (int r = 0; r < GH; ++r) put(wih_t + k * I * GH * lanes, i * GH + r, wi[r * I + i]);
  }
}

// The tasks' weight gradients, partial (K, blocks, GR, H + I + 1) with columns [h | x | 1],
// summed over blocks in order per seed (a fixed order, unlike a parallel reduction), into
// torch's dw_ih (K, GH, I), dw_hh (K, GH, H), db_ih and db_hh (K, GH).
template <class T>
void split_grads(const Dims& d, int64_t K, int64_t blocks, const T* partial, T* dw_ih,
                 T* dw_hh, T* db_ih, T* db_hh) {
  const int H = d.H, I = d.I, GH = d.GH, cols = H + I + 1;
  const int64_t size = static_cast<int64_t>(d.GR) * cols;
  std::vector<T> sum(size);
  for (int64_t k = 0; k < K; ++k) {
    std::fill(sum.begin(), sum.end(), T(0));
    for (int64_t b = 0; b < blocks; ++b) {
      const T* src = partial + (k * blocks + b) * size;
      for (int64_t e = 0; e < size; ++e) sum[e] += src[e];
    }
    T *wi = dw_ih + k * GH * I, *wh = dw_hh + k * GH * H, *bi = db_ih + k * GH,
      *bh = db_hh + k * GH;
    for (int r = 0; r < GH; ++r) {
      // the step-matrix rows of torch's row r (see fill_weights): the GRU's W_in rows sit
      // at 3H..4H, apart from W_hn's
      const bool n = d.cell == kGRU && r >= 2 * H;
      const T *row_h = sum.data() + r * cols, *row_x = sum.data() + (n ? r + H : r) * cols;
      for (int j = 0; j < H; ++j) wh[r * H + j] = row_h[j];
      for (int i = 0; i < I; ++i) wi[r * I + i] = row_x[H + i];
      bh[r] = row_h[H + I];
      bi[r] = row_x[H + I];
    }
  }
}

}  // namespace rnnfused
