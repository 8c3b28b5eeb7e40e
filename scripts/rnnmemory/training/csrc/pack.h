// The seeds' tails packed into shared vectors, for train_last (torch-free). A minibatch of N =
// full * lanes + tail samples per seed leaves each seed's last vector mostly padding (B = 50:
// 56 lanes for 50 samples, 12% of a minibatch step's kernel time); with tail <= lanes / 2,
// `per` seeds' tails share one vector instead, each lane with its own seed's weights (repeated
// weights are vectors already, so lanes may differ; with AVX-512's scalar weights: no packs).
// Every lane computes what it computed in its seed's own tail block, and each seed's share of
// a pack's weight gradient is summed as before (write_packed): bit-equal, tested.
#pragma once

#include <algorithm>
#include <cstdint>

#include "layer.h"

namespace rnnfused {

// Pack m holds seeds m * per .. (at most per); lane l: seed seed(m, l), sample sample(l);
// lanes past the pack's samples are padding (zero inputs, the pack's last seed's weights).
struct TailPacks {
  int64_t K, N, full, packs;
  int lanes, tail, per;
  // allowed false: no packs (the tests compare both); none either where they would save no
  // vector (a single seed): they cost per-lane copies of weights and inputs
  TailPacks(int64_t K_, int64_t N_, int lanes_, bool allowed = true)
      : K(K_), N(N_), full(N_ / lanes_), packs(0), lanes(lanes_), tail(N_ % lanes_), per(0) {
    if (allowed && kRepeatWeights && tail && lanes / tail >= 2 && K > 1)
      per = lanes / tail, packs = (K + per - 1) / per;
  }
  int seeds(int64_t m) const { return static_cast<int>(std::min<int64_t>(per, K - m * per)); }
  int64_t seed(int64_t m, int l) const { return m * per + std::min(l / tail, seeds(m) - 1); }
  bool used(int64_t m, int l) const { return l < seeds(m) * tail; }
  int64_t sample(int l) const { return full * lanes + l % tail; }

  // f(at, packed, used) for every lane of every pack and every (row, step) e of a (K, rows,
  // len, N) tensor: its index there, its index in (packs, rows, len, lanes), whether a sample
  template <class F>
  void for_lanes(int64_t rows, int64_t len, const F& f) const {
    int64_t at[64];
    for (int64_t m = 0; m < packs; ++m) {
      for (int l = 0; l < lanes; ++l) at[l] = seed(m, l) * rows * len * N + sample(l);
      for (int64_t e = 0; e < rows * len; ++e)
        for (int l = 0; l < lanes; ++l)
          f(at[l] + e * N, (m * rows * len + e) * lanes + l, used(m, l));
    }
  }
  // a (K, rows, len, N) tensor's tails into (packs, rows, len, lanes), padding zero; and back
  template <class T>
  void gather(const T* src, int64_t rows, int64_t len, T* dst) const {
    for_lanes(rows, len, [&](int64_t at, int64_t packed, bool used) {
      dst[packed] = used ? src[at] : T(0);
    });
  }
  template <class T>
  void scatter(const T* src, int64_t rows, int64_t len, T* dst) const {
    for_lanes(rows, len, [&](int64_t at, int64_t packed, bool used) {
      if (used) dst[at] = src[packed];
    });
  }
  // per-seed values, `size` per seed each repeated `reps` times (reps = lanes: fill_weights'
  // layout; 1: plain), into (packs, size, lanes) with each lane its seed's
  template <class T>
  void per_lane(const T* src, int64_t size, int reps, T* dst) const {
    int64_t from[64];
    for (int64_t m = 0; m < packs; ++m) {
      for (int l = 0; l < lanes; ++l) from[l] = seed(m, l) * size * reps;
      for (int64_t e = 0; e < size; ++e)
        for (int l = 0; l < lanes; ++l) dst[(m * size + e) * lanes + l] = src[from[l] + e * reps];
    }
  }
  // The weight-gradient partials: the full blocks' (K, full, size) and the packs' (packs,
  // per, size) into (K, full + 1, size), each seed's tail block last, as without packs.
  template <class T>
  void merge(const T* blocks, const T* packed, int64_t size, T* dst) const {
    for (int64_t k = 0; k < K; ++k) {
      std::copy_n(blocks + k * full * size, full * size, dst + k * (full + 1) * size);
      std::copy_n(packed + k * size, size, dst + (k * (full + 1) + full) * size);
    }
  }
};

}  // namespace rnnfused
