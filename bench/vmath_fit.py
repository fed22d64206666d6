#!/usr/bin/python3
"""Coefficients of the float32 tanh and erf in src/ops/vmath.h, reproducibly: /usr/bin/python3 bench/vmath_fit.py

Each is a weighted least-squares fit (weights 1/f: relative error) in double on 800 Chebyshev nodes,
reference values from mpmath at 40 digits. The coefficients are rounded to float one at a time,
lowest order first, refitting the higher ones after each rounding, so the float polynomial itself is
the fitted one. Printed: the C++ constants and the fit's worst relative error, evaluated by Horner
in float32 (the C++ test, tests/functional/test_vmath.cpp, measures the functions themselves)."""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def cheb(a, b, n):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos((2 * k + 1) * np.pi / (2 * n))


def fit_rounded(x, y, degree, w=None):
    w = 1 / y if w is None else w
    fixed = []
    for k in range(degree + 1):
        r = y - sum(np.float64(c) * x**i for i, c in enumerate(fixed))
        A = np.stack([x**p for p in range(k, degree + 1)], 1)
        c, *_ = np.linalg.lstsq(A * w[:, None], r * w, rcond=None)
        fixed.append(np.float32(c[0]))
    return fixed


def horner32(c, t):
    t = np.asarray(t, dtype=np.float32)
    r = np.full_like(t, c[-1])
    for ci in c[-2::-1]:
        r = (r * t + ci).astype(np.float32)
    return r


def report(name, c, t, f, scale=None):
    tt = np.asarray(t, dtype=np.float32)
    y = np.array([f(float(v)) for v in tt])
    scale = y if scale is None else scale(tt)
    err = np.abs((horner32(c, tt).astype(np.float64) - y) / scale).max()
    print(f"// {name}: degree {len(c) - 1}, worst error in float32 relative to the function {err:.2e}")
    print("\n".join(f"  {float(ci):.9e}f," for ci in c))


# tanh(x) = x + x·z·P(z), z = x², |x| < 0.625 (Cephes tanhf's split); P(z) = (tanh(x)/x − 1)/z.
a = 0.625
z = cheb(0, a * a, 800)
tanh_p = lambda v: float((mp.tanh(mp.sqrt(v)) / mp.sqrt(v) - 1) / v)
report("tanh P(z)", fit_rounded(z, np.array([tanh_p(v) for v in z]), 4), cheb(0, a * a, 4000), tanh_p)

# erf(x) = x + x·R(z), z = x², |x| < 0.9: R(z) = erf(x)/x − 1 (R(0) = 2/√π − 1), fitted for the error of
# erf relative to erf, i.e. R's error relative to 1 + R; the final x + x·R rounds once, near 0.5 ulp.
a = 0.9
z = cheb(0, a * a, 800)
erf_r = lambda v: float(mp.erf(mp.sqrt(v)) / mp.sqrt(v) - 1)
r = np.array([erf_r(v) for v in z])
zz = cheb(0, a * a, 4000)
report("erf R(z)", fit_rounded(z, r, 6, 1 / (1 + r)), zz, erf_r, lambda t: 1 + np.array([erf_r(float(v)) for v in t]))

# erfc(u) = e^(−u²)·t·S(t), t = 1/u, for u in [0.9, 9.5] (erfc(9.5) ≈ 7e−41: GELU's x·Φ(x) is below
# the normal floats beyond); S(t) = erfc(1/t)·e^(1/t²)/t → 1/√π as t → 0, smooth on the interval. Fitted in
# s = t − t0 (centred, so the terms do not cancel in float).
lo, hi = 1 / 9.5, 1 / 0.9
t0 = np.float32((lo + hi) / 2)
print(f"// t0 = {float(t0):.9e}f")
t = cheb(lo, hi, 800)
S = lambda v: float(mp.erfc(1 / mp.mpf(v)) * mp.exp(1 / mp.mpf(v) ** 2) / v)
S_s = lambda s: S(s + float(t0))
s = t - np.float64(t0)
report("erfc S(s)", fit_rounded(s, np.array([S_s(v) for v in s]), 10), cheb(lo, hi, 4000) - float(t0), S_s)
