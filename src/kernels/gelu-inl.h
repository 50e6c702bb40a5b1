// Vectorised exact GELU, GELU(z) = z * Phi(z) = 0.5 z (1 + erf(z / sqrt 2)),
// for every Highway target. Highway 1.0.3 has no vector erf, so fff carries
// its own approximation (coefficients fitted by
// python/reference/fit_gelu.py against mpmath):
//   g = GELU(-t) for t = |z|, then GELU(z) = z + g for z > 0, else g,
// because z Phi(z) = z - z Phi(-z). Evaluating the negative side only avoids
// the cancellation of 1 + erf(.) for z < 0.
//   t <= 2:   Phi(-t) = 0.5 - t P(t^2)            P: degree 9
//   t >  2:   Phi(-t) = phi(t) Q(1/t^2) / t       Q: degree 11 (Mills ratio)
// Error against the double-precision erf GELU on |z| <= 10 is at most
// 2e-7 absolute beyond the half-ulp rounding of the float result
// (tests/unit/gelu_test.cc measures it on every target). NaN propagates.

// Per-target include guard.
#if defined(FFF_SRC_KERNELS_GELU_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FFF_SRC_KERNELS_GELU_INL_H_
#undef FFF_SRC_KERNELS_GELU_INL_H_
#else
#define FFF_SRC_KERNELS_GELU_INL_H_
#endif

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace fff::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D>
HWY_INLINE hn::Vec<D> Gelu(D d, hn::Vec<D> z) {
  using V = hn::Vec<D>;
  const V t = hn::Abs(z);
  const V s = hn::Mul(t, t);

  // Central region: Phi(-t) = 0.5 - t * P(t^2).
  V p = hn::Set(d, -3.871414300e-11f);
  p = hn::MulAdd(p, s, hn::Set(d, 1.636907897e-09f));
  p = hn::MulAdd(p, s, hn::Set(d, -3.782605771e-08f));
  p = hn::MulAdd(p, s, hn::Set(d, 6.542199968e-07f));
  p = hn::MulAdd(p, s, hn::Set(d, -9.418084260e-06f));
  p = hn::MulAdd(p, s, hn::Set(d, 1.153958101e-04f));
  p = hn::MulAdd(p, s, hn::Set(d, -1.187292823e-03f));
  p = hn::MulAdd(p, s, hn::Set(d, 9.973538533e-03f));
  p = hn::MulAdd(p, s, hn::Set(d, -6.649037542e-02f));
  p = hn::MulAdd(p, s, hn::Set(d, 3.989422801e-01f));
  const V phi_small = hn::NegMulAdd(t, p, hn::Set(d, 0.5f));
  const V g_small = hn::Neg(hn::Mul(t, phi_small));

  // Tail: GELU(-t) = -t Phi(-t) = -phi(t) Q(1/t^2). t is clamped to [2, 12]
  // (beyond 12 the value is below 1e-31 and flushed to zero).
  const V tc = hn::Min(hn::Max(t, hn::Set(d, 2.0f)), hn::Set(d, 12.0f));
  const V sc = hn::Mul(tc, tc);
  const V u = hn::Div(hn::Set(d, 1.0f), sc);
  V q = hn::Set(d, 2.021829573e+04f);
  q = hn::MulAdd(q, u, hn::Set(d, -2.874789798e+03f));
  q = hn::MulAdd(q, u, hn::Set(d, -2.063717149e+04f));
  q = hn::MulAdd(q, u, hn::Set(d, 1.915642973e+04f));
  q = hn::MulAdd(q, u, hn::Set(d, -8.615286200e+03f));
  q = hn::MulAdd(q, u, hn::Set(d, 2.459484647e+03f));
  q = hn::MulAdd(q, u, hn::Set(d, -5.080143886e+02f));
  q = hn::MulAdd(q, u, hn::Set(d, 8.640197351e+01f));
  q = hn::MulAdd(q, u, hn::Set(d, -1.445481938e+01f));
  q = hn::MulAdd(q, u, hn::Set(d, 2.990237108e+00f));
  q = hn::MulAdd(q, u, hn::Set(d, -9.999093208e-01f));
  q = hn::MulAdd(q, u, hn::Set(d, 9.999996838e-01f));
  const V pdf = hn::Mul(hn::Exp(d, hn::Mul(hn::Set(d, -0.5f), sc)),
                        hn::Set(d, 0.3989422804014327f));  // 1/sqrt(2 pi)
  V g_big = hn::Neg(hn::Mul(pdf, q));
  g_big = hn::IfThenZeroElse(hn::Gt(t, hn::Set(d, 12.0f)), g_big);

  const V g = hn::IfThenElse(hn::Le(t, hn::Set(d, 2.0f)), g_small, g_big);
  const V gelu = hn::IfThenElse(hn::Gt(z, hn::Zero(d)), hn::Add(z, g), g);
  return hn::IfThenElse(hn::IsNaN(z), z, gelu);
}

}  // namespace fff::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
