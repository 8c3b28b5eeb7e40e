// SIMD vectors over samples and the transcendental functions of the recurrent cells.
//
// Why hand-written: ATen's Vectorized<T> compiles to its scalar fallback in an extension
// (measured), and GCC calls glibc's vector exp/tanh (libmvec) only under -ffast-math: its
// -ffinite-math-only lets the compiler assume that no NaN or Inf exists (without __FAST_MATH__
// glibc's headers do not declare the vector variants, checked in the assembly), and divergence
// detection needs NaN to propagate. So these functions are plain arithmetic on GCC vector
// types, compiled without -ffinite-math-only: every clamp keeps NaN (NaN in, NaN out) and
// large inputs saturate instead of overflowing. Every operation counts (the CPU retires about
// one 512-bit op per cycle, and an LSTM step needs 50 of these per sample), so AVX-512 and
// AVX get single instructions for the NaN-keeping clamps (max/min, not compare and blend: 3%
// of an LSTM epoch on the AVX2 EPYC); other CPUs get the same maths in portable form. Measured
// here: sigmoid 14 and tanh 19 cycles per 16 floats (0.25 and 0.33 ns a value;
// glibc's vector expf in a sigmoid loop: 0.42 ns), within 1.5 ulp of the exact values in
// float and double.
//
// Vec<T> is one vector register: 64 bytes (16 floats or 8 doubles) with AVX-512, else 32.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace rnnfused {

// 32 bytes without AVX-512: a 64-byte vector would take two of AVX2's 16 registers, and the
// kernel's register tiles (sized for AVX-512's 32) then spill to memory (measured on an AVX2
// EPYC: the fused kernel ran 1.5 to 3x slower than torch's ops with 64-byte vectors).
#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#else
constexpr int kVecBytes = 32;
#endif

template <class T>
struct Simd;

template <>
struct Simd<float> {
  typedef float V __attribute__((vector_size(kVecBytes)));
  typedef int32_t I __attribute__((vector_size(kVecBytes)));
  static constexpr int lanes = kVecBytes / 4, mantissa = 23;
  // t = x log2(e) + magic rounds to an integer n, and the low bits of t are then n + 127, the
  // exponent field of 2^n (1.5 * 2^23 + 127)
  static constexpr float magic = 12583039.0f;
  static constexpr float hi = 87.0f;  // |x| <= hi keeps 2^n a normal float
  static constexpr float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
  // e^r on |r| <= ln2/2: near-minimax coefficients of degree 6, relative error 4e-9 (ulp 6e-8)
  static constexpr int degree = 6;
  static constexpr float coef[degree + 1] = {1.0f,        1.0f,        0.49999994f, 0.16666521f,
                                             0.04166839f, 0.00836871f, 0.00138146f};
};

template <>
struct Simd<double> {
  typedef double V __attribute__((vector_size(kVecBytes)));
  typedef int64_t I __attribute__((vector_size(kVecBytes)));
  static constexpr int lanes = kVecBytes / 8, mantissa = 52;
  static constexpr double magic = 6755399441055744.0 + 1023.0;  // 1.5 * 2^52 + 1023
  static constexpr double hi = 708.0;
  static constexpr double ln2_hi = 0.693147180369123816490, ln2_lo = 1.90821492927058770002e-10;
  static constexpr int degree = 13;  // Taylor: truncation error 4e-18 (ulp 1.1e-16)
  static constexpr double coef[degree + 1] = {
      1.0,         1.0,          1.0 / 2,       1.0 / 6,        1.0 / 24,
      1.0 / 120,   1.0 / 720,    1.0 / 5040,    1.0 / 40320,    1.0 / 362880,
      1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};
};

template <class T>
using Vec = typename Simd<T>::V;

template <class T>
inline Vec<T> splat(T value) {
  return value - Vec<T>{};  // (not 0 + value: that turns -0 into +0)
}

// v, forced into a register: GCC otherwise folds every reuse of a loaded vector into its FMA
// as a memory operand, and loads then limit the FMAs: on Zen 4 a 512-bit load costs as much
// issue bandwidth as the FMA (the weight-gradient tiles ran at 0.6 FMA per cycle instead of 1);
// on the AVX2 EPYC the tiles' 12 loads per 8 FMAs (2 loads a cycle) gave way to 6 (1.08-1.11x
// per train_last call, bit-equal).
template <class T>
inline Vec<T> in_reg(Vec<T> v) {
#if defined(__AVX512F__)
  asm("" : "+v"(v));
#elif defined(__AVX__)
  asm("" : "+x"(v));
#endif
  return v;
}

// max(x, lo) and min(x, hi) that return x when it is NaN. x86's max(a, b) is a > b ? a : b,
// so with the bound first a NaN x falls through to the second operand.
template <class T>
inline Vec<T> at_least(Vec<T> x, T lo) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) return (Vec<T>)_mm512_max_ps(_mm512_set1_ps(lo), (__m512)x);
  if constexpr (sizeof(T) == 8) return (Vec<T>)_mm512_max_pd(_mm512_set1_pd(lo), (__m512d)x);
#elif defined(__AVX__)
  if constexpr (sizeof(T) == 4) return (Vec<T>)_mm256_max_ps(_mm256_set1_ps(lo), (__m256)x);
  if constexpr (sizeof(T) == 8) return (Vec<T>)_mm256_max_pd(_mm256_set1_pd(lo), (__m256d)x);
#endif
  return x < lo ? splat(lo) : x;
}

template <class T>
inline Vec<T> at_most(Vec<T> x, T hi) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) return (Vec<T>)_mm512_min_ps(_mm512_set1_ps(hi), (__m512)x);
  if constexpr (sizeof(T) == 8) return (Vec<T>)_mm512_min_pd(_mm512_set1_pd(hi), (__m512d)x);
#elif defined(__AVX__)
  if constexpr (sizeof(T) == 4) return (Vec<T>)_mm256_min_ps(_mm256_set1_ps(hi), (__m256)x);
  if constexpr (sizeof(T) == 8) return (Vec<T>)_mm256_min_pd(_mm256_set1_pd(hi), (__m256d)x);
#endif
  return x > hi ? splat(hi) : x;
}

// The sign bit of every lane.
template <class T>
inline typename Simd<T>::I sign_mask() {
  return (typename Simd<T>::I)splat(T(-0.0));  // -0.0: only the sign bit set
}

// Range reduction shared by exp and expm1: for y = s * x (s = -1 or -2, folded into the
// constants), y = n ln2 + r with |r| <= ln2/2; returns rho = -r / s... precisely: r = s * rho,
// and scale = 2^n. x must be clamped so that |y| <= hi (or be NaN).
template <class T>
inline Vec<T> reduce(Vec<T> x, T s, Vec<T>& scale) {
  using S = Simd<T>;
  using I = typename S::I;
  const Vec<T> t = x * (s * T(1.4426950408889634)) + S::magic;  // n + magic, rounded
  const Vec<T> n = t - S::magic;
  scale = (Vec<T>)((I)t << S::mantissa);
  Vec<T> rho = x + n * (S::ln2_hi / -s);  // y - n ln2 = s (x + n ln2 / s) = s rho
  return rho + n * (S::ln2_lo / -s);
}

// q(rho) = sum_{k>=1} c_k s^k rho^(k-1): (e^r - 1) / rho for r = s rho, Horner.
template <class T>
inline Vec<T> poly_q(Vec<T> rho, T s) {
  using S = Simd<T>;
  T pw[S::degree + 1];
  pw[0] = 1;
  for (int k = 1; k <= S::degree; ++k) pw[k] = pw[k - 1] * s;
  Vec<T> q = splat(T(S::coef[S::degree] * pw[S::degree]));
  for (int k = S::degree - 1; k >= 1; --k) q = q * rho + T(S::coef[k] * pw[k]);
  return q;
}

// 1 / (1 + e^-x): saturates to 0 and 1, NaN in gives NaN out.
template <class T>
inline Vec<T> sigmoid(Vec<T> x) {
  x = at_most(at_least(x, -Simd<T>::hi), Simd<T>::hi);
  Vec<T> scale;
  const Vec<T> rho = reduce<T>(x, T(-1), scale);
  const Vec<T> e = (poly_q<T>(rho, T(-1)) * rho + T(1)) * scale;  // e^-x
  return T(1) / (T(1) + e);  // the divider runs beside the FMA pipes
}

// tanh x = sign(x) m / (-2 - m), m = e^(-2|x|) - 1 computed as expm1: no cancellation near 0.
template <class T>
inline Vec<T> tanh_(Vec<T> x) {
  using I = typename Simd<T>::I;
  const I sign = sign_mask<T>();
  const Vec<T> a = at_most((Vec<T>)((I)x & ~sign), Simd<T>::hi / 2);
  Vec<T> scale;
  const Vec<T> rho = reduce<T>(a, T(-2), scale);
  const Vec<T> m = scale * (poly_q<T>(rho, T(-2)) * rho) + (scale - T(1));  // e^-2a - 1
  const Vec<T> mag = m / (T(-2) - m);  // >= 0, or -0
  return (Vec<T>)(((I)mag & ~sign) | ((I)x & sign));
}

// Load n <= lanes values (the rest zero) / store the first n lanes. The full-width case is a
// fixed-size copy, i.e. one unaligned vector load or store.
template <class T>
inline Vec<T> load(const T* p, int n) {
  Vec<T> v{};
  if (n == Simd<T>::lanes)
    std::memcpy(&v, p, sizeof(v));
  else
    std::memcpy(&v, p, sizeof(T) * n);
  return v;
}

template <class T>
inline void store(T* p, Vec<T> v, int n) {
  if (n == Simd<T>::lanes)
    std::memcpy(p, &v, sizeof(v));
  else
    std::memcpy(p, &v, sizeof(T) * n);
}

}  // namespace rnnfused
