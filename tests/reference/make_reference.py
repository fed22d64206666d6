#!/usr/bin/python3
"""Generate PyTorch reference data for regrad's normalization / dropout / loss ops.

For every case below (each in float32 and float64, folder suffix _f32 / _f64)
this script writes, under tests/reference/data/<case>/:

  args.txt              key=value lines (op, dtype, and op parameters such as
                        eps, momentum, groups, normalized_shape, p,
                        label_smoothing, reduction, eval)
  x.npy, weight.npy, bias.npy, running_mean.npy, running_var.npy,
  target.npy, mask.npy, grad_out.npy
                        inputs (only those relevant to the case)
  expected/y.npy, expected/dx.npy, expected/dweight.npy, expected/dbias.npy,
  expected/running_mean.npy, expected/running_var.npy
                        PyTorch outputs (forward value, gradients from
                        y.backward(grad_out), updated running statistics)

All arrays are little-endian, C-ordered, in the case's dtype (except int64
class-index targets). Generation is deterministic: every case seeds torch and
numpy from a fixed per-case seed, and random values are drawn in float64 and
then cast, so the _f32 and _f64 variants of a case share the same inputs up to
rounding.

The data folder is deleted and recreated on every run. To regenerate
(needs torch; Debian's interpreter has it):

    /usr/bin/python3 tests/reference/make_reference.py

The C++ tests only read the .npy files; they never need torch.
"""

import os
import shutil
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

DTYPES = [("f32", torch.float32, "float32"), ("f64", torch.float64, "float64")]


# --------------------------------------------------------------------------
# helpers


def seed_for(name):
    """Stable per-case seed (independent of case order and of dtype)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


class Gen:
    """Random source for one case: draws in float64, casts to the case dtype."""

    def __init__(self, name, tdtype):
        seed = seed_for(name)
        self.g = torch.Generator().manual_seed(seed)
        self.rs = np.random.RandomState(seed)
        self.tdtype = tdtype

    def randn(self, *shape, scale=1.0, offset=0.0):
        t = torch.randn(tuple(shape), generator=self.g, dtype=torch.float64)
        return (scale * t + offset).to(self.tdtype)

    def rand(self, *shape, scale=1.0, offset=0.0):
        t = torch.rand(tuple(shape), generator=self.g, dtype=torch.float64)
        return (scale * t + offset).to(self.tdtype)

    def randint(self, high, *shape):
        return torch.randint(0, high, shape, generator=self.g, dtype=torch.int64)


def to_np(t):
    a = t.detach().cpu().numpy()
    a = np.array(a, order="C", copy=True)  # keeps 0-d arrays 0-d
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a


def fmt(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (tuple, list)):
        return " ".join(str(int(i)) for i in v)
    return str(v)


def write_case(name, args, inputs, outputs):
    d = os.path.join(DATA, name)
    e = os.path.join(d, "expected")
    os.makedirs(e)
    with open(os.path.join(d, "args.txt"), "w") as f:
        for k, v in args.items():
            f.write("%s=%s\n" % (k, fmt(v)))
    shapes = []
    for k, t in inputs.items():
        a = to_np(t)
        np.save(os.path.join(d, k + ".npy"), a)
        shapes.append("%s%s" % (k, tuple(a.shape)))
    for k, t in outputs.items():
        a = to_np(t)
        np.save(os.path.join(e, k + ".npy"), a)
        shapes.append("expected/%s%s" % (k, tuple(a.shape)))
    print("%-34s %s" % (name, " ".join(shapes)))


def leaf(t):
    return t.detach().clone().requires_grad_()


def run_backward(y, gen):
    grad_out = gen.randn(*y.shape)
    y.backward(grad_out)
    return grad_out


def grads(x, weight=None, bias=None):
    out = {"dx": x.grad}
    if weight is not None:
        out["dweight"] = weight.grad
    if bias is not None:
        out["dbias"] = bias.grad
    return out


def params(inputs, weight, bias):
    if weight is not None:
        inputs["weight"] = weight
    if bias is not None:
        inputs["bias"] = bias


# --------------------------------------------------------------------------
# batch_norm


def case_batch_norm(base, shape, affine=True, training=True, tracked=True,
                    momentum=0.1, eps=1e-5):
    for suf, tdt, sdt in DTYPES:
        name = "%s_%s" % (base, suf)
        gen = Gen(base, tdt)
        C = shape[1]
        x = leaf(gen.randn(*shape, scale=3.0, offset=1.5))
        weight = leaf(gen.randn(C, scale=0.5, offset=1.0)) if affine else None
        bias = leaf(gen.randn(C, scale=0.5)) if affine else None
        if tracked:
            rm0 = gen.randn(C, scale=0.5)
            rv0 = gen.rand(C, offset=0.5)
            rm, rv = rm0.clone(), rv0.clone()
        else:
            rm0 = rv0 = rm = rv = None
        y = F.batch_norm(x, rm, rv, weight, bias, training, momentum, eps)
        grad_out = run_backward(y, gen)

        args = {"op": "batch_norm", "dtype": sdt}
        if not training:
            args["eval"] = 1
        args["eps"] = float(eps)
        args["momentum"] = float(momentum)
        inputs = {"x": x}
        params(inputs, weight, bias)
        if tracked:
            inputs["running_mean"] = rm0
            inputs["running_var"] = rv0
        inputs["grad_out"] = grad_out
        outputs = {"y": y}
        outputs.update(grads(x, weight, bias))
        if tracked and training:
            outputs["running_mean"] = rm
            outputs["running_var"] = rv
        write_case(name, args, inputs, outputs)


# --------------------------------------------------------------------------
# layer_norm / rms_norm


def case_layer_norm(base, shape, nshape, affine=True, eps=1e-5):
    for suf, tdt, sdt in DTYPES:
        name = "%s_%s" % (base, suf)
        gen = Gen(base, tdt)
        x = leaf(gen.randn(*shape, scale=2.0, offset=0.7))
        weight = leaf(gen.randn(*nshape, scale=0.5, offset=1.0)) if affine else None
        bias = leaf(gen.randn(*nshape, scale=0.5)) if affine else None
        y = F.layer_norm(x, tuple(nshape), weight, bias, eps)
        grad_out = run_backward(y, gen)
        args = {"op": "layer_norm", "dtype": sdt,
                "normalized_shape": nshape, "eps": float(eps)}
        inputs = {"x": x}
        params(inputs, weight, bias)
        inputs["grad_out"] = grad_out
        outputs = {"y": y}
        outputs.update(grads(x, weight, bias))
        write_case(name, args, inputs, outputs)


def case_rms_norm(base, shape, nshape, affine=True, eps=1e-6):
    for suf, tdt, sdt in DTYPES:
        name = "%s_%s" % (base, suf)
        gen = Gen(base, tdt)
        x = leaf(gen.randn(*shape, scale=2.0, offset=0.5))
        weight = leaf(gen.randn(*nshape, scale=0.5, offset=1.0)) if affine else None
        dims = tuple(range(x.dim() - len(nshape), x.dim()))
        y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
        if weight is not None:
            y = y * weight
        grad_out = run_backward(y, gen)
        args = {"op": "rms_norm", "dtype": sdt,
                "normalized_shape": nshape, "eps": float(eps)}
        inputs = {"x": x}
        params(inputs, weight, None)
        inputs["grad_out"] = grad_out
        outputs = {"y": y}
        outputs.update(grads(x, weight, None))
        write_case(name, args, inputs, outputs)


# --------------------------------------------------------------------------
# group_norm


def case_group_norm(base, shape, groups, affine=True, eps=1e-5):
    for suf, tdt, sdt in DTYPES:
        name = "%s_%s" % (base, suf)
        gen = Gen(base, tdt)
        C = shape[1]
        x = leaf(gen.randn(*shape, scale=2.0, offset=-0.8))
        weight = leaf(gen.randn(C, scale=0.5, offset=1.0)) if affine else None
        bias = leaf(gen.randn(C, scale=0.5)) if affine else None
        y = F.group_norm(x, groups, weight, bias, eps)
        grad_out = run_backward(y, gen)
        args = {"op": "group_norm", "dtype": sdt,
                "groups": int(groups), "eps": float(eps)}
        inputs = {"x": x}
        params(inputs, weight, bias)
        inputs["grad_out"] = grad_out
        outputs = {"y": y}
        outputs.update(grads(x, weight, bias))
        write_case(name, args, inputs, outputs)


# --------------------------------------------------------------------------
# dropout (explicit mask)


def case_dropout(base, shape, p):
    for suf, tdt, sdt in DTYPES:
        name = "%s_%s" % (base, suf)
        gen = Gen(base, tdt)
        x = leaf(gen.randn(*shape))
        u = gen.rs.rand(*shape)
        mask = torch.from_numpy((u >= p).astype(np.float64)).to(tdt)
        y = x * mask / (1 - p)
        grad_out = run_backward(y, gen)
        args = {"op": "dropout", "dtype": sdt, "p": float(p)}
        inputs = {"x": x, "mask": mask, "grad_out": grad_out}
        outputs = {"y": y, "dx": x.grad}
        write_case(name, args, inputs, outputs)


# --------------------------------------------------------------------------
# cross_entropy


def case_cross_entropy(base, N, K, label_smoothing, reduction, soft=False):
    for suf, tdt, sdt in DTYPES:
        name = "%s_%s" % (base, suf)
        gen = Gen(base, tdt)
        x = leaf(gen.randn(N, K, scale=2.0))
        if soft:
            target = torch.softmax(gen.randn(N, K, scale=1.5).double(), dim=1).to(tdt)
        else:
            target = gen.randint(K, N)
        y = F.cross_entropy(x, target, reduction=reduction,
                            label_smoothing=label_smoothing)
        grad_out = run_backward(y, gen)
        args = {"op": "cross_entropy", "dtype": sdt,
                "label_smoothing": float(label_smoothing),
                "reduction": reduction}
        inputs = {"x": x, "target": target, "grad_out": grad_out}
        outputs = {"y": y, "dx": x.grad}
        write_case(name, args, inputs, outputs)


# --------------------------------------------------------------------------


def main():
    torch.manual_seed(0)  # per-case generators are used; this is belt and braces
    if os.path.isdir(DATA):
        shutil.rmtree(DATA)
    os.makedirs(DATA)

    # batch_norm
    case_batch_norm("bn1d_train_affine", (8, 5))
    case_batch_norm("bn1d_train_noaffine", (8, 5), affine=False)
    case_batch_norm("bn1d_eval_affine", (8, 5), training=False)
    case_batch_norm("bn1d_3d_train", (4, 3, 6))
    case_batch_norm("bn2d_train_affine", (4, 3, 5, 5))
    case_batch_norm("bn2d_eval", (4, 3, 5, 5), training=False)
    case_batch_norm("bn1d_train_mom03_eps1e-3", (8, 5), momentum=0.3, eps=1e-3)
    case_batch_norm("bn1d_train_untracked", (8, 5), tracked=False)

    # layer_norm
    case_layer_norm("ln_affine", (6, 10), [10])
    case_layer_norm("ln_4d", (2, 3, 4, 5), [4, 5])
    case_layer_norm("ln_noaffine", (6, 10), [10], affine=False)
    case_layer_norm("ln_eps1e-3", (5, 7), [7], eps=1e-3)

    # rms_norm
    case_rms_norm("rms_affine", (6, 10), [10], eps=1e-6)
    case_rms_norm("rms_4d", (2, 3, 4, 5), [4, 5], eps=1e-5)
    case_rms_norm("rms_noaffine", (6, 10), [10], affine=False, eps=1e-6)

    # group_norm
    case_group_norm("gn_3d", (4, 6, 5), 3)
    case_group_norm("gn_4d_g4", (2, 8, 3, 3), 4)
    case_group_norm("gn_g1", (2, 8, 3, 3), 1)
    case_group_norm("gn_gC", (2, 8, 3, 3), 8)
    case_group_norm("gn_noaffine", (2, 8, 3, 3), 2, affine=False)
    # spatial size >= 64: regrad's kernels loop over each channel's run instead
    case_group_norm("gn_long", (2, 6, 8, 8), 3)
    case_group_norm("gn_long_noaffine", (3, 4, 70), 2, affine=False)

    # dropout
    case_dropout("dropout_p05", (6, 8), 0.5)
    case_dropout("dropout_p02", (4, 5, 3), 0.2)

    # cross_entropy
    case_cross_entropy("ce_mean", 6, 5, 0.0, "mean")
    case_cross_entropy("ce_ls01_mean", 6, 5, 0.1, "mean")
    case_cross_entropy("ce_ls02_sum", 6, 5, 0.2, "sum")
    case_cross_entropy("ce_none", 6, 5, 0.1, "none")
    case_cross_entropy("ce_soft_mean", 6, 5, 0.0, "mean", soft=True)
    case_cross_entropy("ce_soft_ls", 6, 5, 0.15, "mean", soft=True)


if __name__ == "__main__":
    main()
