#!/usr/bin/python3
"""Generate PyTorch reference data for regrad's fused layers and optimizers.

Layers. For every fused layer this script enumerates the combinations of its
optional arguments, not a hand-picked few:

  batch_norm     weight x bias x {train without running stats, train with
                 them, eval} x 3 shapes (one channel; (N, C, L); (N, C, H, W)),
                 plus one momentum/eps case
  layer_norm     weight x bias x 3 shapes (one column; 1 and 2 normalized
                 dims), plus one eps case
  rms_norm       weight x 3 shapes, plus the default eps (dtype's epsilon)
  group_norm     weight x bias x 6 shapes: spatial size 63 and 64 (each side
                 of regrad's run-length switch at 64), 77 (4-d, long runs),
                 5, 1, and one group per channel
  dropout        3 masks of odd shapes and p, plus eval (the identity)
  cross_entropy  reduction x label smoothing {0, 0.15} x class weight x
                 target {class indices, class indices with ignored positions,
                 probabilities} x layout {(N, K), (N, K, d)}, plus (K)
                 unbatched (indices and probabilities) and one class (K = 1)

each in float32 and float64 (folder suffix _f32 / _f64), at odd sizes (primes,
one column). Every case folder tests/reference/data/<case>/ holds

  args.txt              key=value lines (op, dtype, and the op's parameters:
                        eps, momentum, groups, normalized_shape, p,
                        label_smoothing, reduction, ignore_index, eval;
                        atol: a case's own absolute tolerance, where the
                        script explains why the dtype's default is too tight)
  x.npy, weight.npy, bias.npy, running_mean.npy, running_var.npy,
  target.npy, class_weight.npy, mask.npy, grad_out.npy
                        inputs (only those the case has)
  expected/y.npy, dx.npy, dweight.npy, dbias.npy, dtarget.npy,
  running_mean.npy, running_var.npy
                        PyTorch's outputs: forward value, gradients from
                        y.backward(grad_out), updated running statistics

Optimizers. tests/reference/optim/<case>/ holds torch.optim's own trajectory
over several steps: SGD (plain, momentum, dampening, Nesterov, weight decay,
all together), AdamW (defaults, other betas/eps/decay), each also with a
parameter that has no gradient for the first steps (and skips one later), and
with torch.nn.utils.clip_grad_norm_ before every step; float32 and float64.

  args.txt              optimizer, lr, momentum, dampening, nesterov,
                        weight_decay, beta1, beta2, eps, max_norm (0: no
                        clipping), steps, params, dtype
  param<i>.npy          initial value of parameter i
  grad<i>.npy           (steps, *shape): its gradient at each step
  has_grad.npy          (steps, params) int64: 0 where the parameter has no
                        gradient at that step (grad is None)
  expected/param<i>.npy (steps, *shape): its value after each step
  expected/norm.npy     (steps): clip_grad_norm_'s return value (when
                        max_norm > 0)

Notes. PyTorch 1.13 has no RMSNorm: rms_norm's reference is the formula
x * rsqrt(mean(x^2 over the normalized dims) + eps) [* weight] written in
torch. PyTorch 1.13's F.group_norm raises on a bias without a weight, so that
reference is F.group_norm(x, G) + bias (broadcast per channel), which is what
the layer means. Dropout's reference uses a given mask: y = x * mask / (1 - p).

Random values are drawn in float64 from a per-case seed (crc32 of the case
name, independent of order and dtype) and then cast, so the _f32 and _f64
variants share inputs up to rounding. The script deletes and recreates both
data folders and prints the number of cases and tensors it wrote; the C++
tests assert those exact numbers. Regenerate with Debian's interpreter:

    /usr/bin/python3 tests/reference/make_reference.py

The C++ tests only read the .npy files; they never need torch.
"""

import itertools
import os
import shutil
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
OPTIM = os.path.join(HERE, "optim")

DTYPES = [("f32", torch.float32, "float32"), ("f64", torch.float64, "float64")]

COUNTS = {"cases": 0, "tensors": 0, "optim_cases": 0, "optim_tensors": 0}


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


def write_folder(root, name, args, inputs, outputs, kind):
    d = os.path.join(root, name)
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
    COUNTS[kind] += 1
    COUNTS[kind.replace("cases", "tensors")] += len(outputs)
    print("%-44s %s" % (name, " ".join(shapes)))


def write_case(name, args, inputs, outputs):
    write_folder(DATA, name, args, inputs, outputs, "cases")


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


def affine_name(w, b):
    return ("w" if w else "") + ("b" if b else "") or "plain"


def shape_name(shape):
    return "x".join(str(s) for s in shape)


AFFINE = list(itertools.product([False, True], [False, True]))  # (weight, bias)


# --------------------------------------------------------------------------
# batch_norm


def case_batch_norm(base, shape, affine_w, affine_b, training, tracked, momentum=0.1, eps=1e-5):
    for suf, tdt, sdt in DTYPES:
        gen = Gen(base, tdt)
        C = shape[1]
        x = leaf(gen.randn(*shape, scale=3.0, offset=1.5))
        weight = leaf(gen.randn(C, scale=0.5, offset=1.0)) if affine_w else None
        bias = leaf(gen.randn(C, scale=0.5)) if affine_b else None
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
        write_case("%s_%s" % (base, suf), args, inputs, outputs)


def all_batch_norm():
    # eval needs running statistics (F.batch_norm refuses eval without them)
    modes = [("train", True, False), ("train_tracked", True, True), ("eval", False, True)]
    for shape in [(7, 1), (5, 3, 7), (3, 2, 5, 3)]:
        for mode, training, tracked in modes:
            for w, b in AFFINE:
                base = "bn_%s_%s_%s" % (shape_name(shape), mode, affine_name(w, b))
                case_batch_norm(base, shape, w, b, training, tracked)
    case_batch_norm("bn_8x5_train_tracked_wb_mom03_eps1e-3", (8, 5), True, True, True, True, momentum=0.3, eps=1e-3)


# --------------------------------------------------------------------------
# layer_norm / rms_norm


def case_layer_norm(base, shape, nshape, affine_w, affine_b, eps=1e-5):
    for suf, tdt, sdt in DTYPES:
        # One column: x - mean is exactly 0, but torch computes y = x*rstd + (b - mean*rstd), whose
        # float32 rounding at |x|*rstd ~ 1e3 (rstd = 1/sqrt(eps) ~ 316) is ~1e-4 in y, dx and dweight.
        atol = 2e-4 if tdt == torch.float32 and np.prod(nshape) == 1 else None
        gen = Gen(base, tdt)
        x = leaf(gen.randn(*shape, scale=2.0, offset=0.7))
        weight = leaf(gen.randn(*nshape, scale=0.5, offset=1.0)) if affine_w else None
        bias = leaf(gen.randn(*nshape, scale=0.5)) if affine_b else None
        y = F.layer_norm(x, tuple(nshape), weight, bias, eps)
        grad_out = run_backward(y, gen)
        args = {"op": "layer_norm", "dtype": sdt, "normalized_shape": nshape, "eps": float(eps)}
        if atol is not None:
            args["atol"] = atol
        inputs = {"x": x}
        params(inputs, weight, bias)
        inputs["grad_out"] = grad_out
        outputs = {"y": y}
        outputs.update(grads(x, weight, bias))
        write_case("%s_%s" % (base, suf), args, inputs, outputs)


def case_rms_norm(base, shape, nshape, affine_w, eps):
    """eps None: regrad's default, the dtype's machine epsilon (torch.finfo(dtype).eps)."""
    for suf, tdt, sdt in DTYPES:
        gen = Gen(base, tdt)
        x = leaf(gen.randn(*shape, scale=2.0, offset=0.5))
        weight = leaf(gen.randn(*nshape, scale=0.5, offset=1.0)) if affine_w else None
        dims = tuple(range(x.dim() - len(nshape), x.dim()))
        e = torch.finfo(tdt).eps if eps is None else eps
        y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + e)
        if weight is not None:
            y = y * weight
        grad_out = run_backward(y, gen)
        args = {"op": "rms_norm", "dtype": sdt, "normalized_shape": nshape}
        if eps is not None:
            args["eps"] = float(eps)
        inputs = {"x": x}
        params(inputs, weight, None)
        inputs["grad_out"] = grad_out
        outputs = {"y": y}
        outputs.update(grads(x, weight, None))
        write_case("%s_%s" % (base, suf), args, inputs, outputs)


ROW_SHAPES = [((7, 13), [13]), ((5, 1), [1]), ((2, 3, 5), [3, 5])]


def all_layer_norm():
    for shape, nshape in ROW_SHAPES:
        for w, b in AFFINE:
            case_layer_norm("ln_%s_%s" % (shape_name(shape), affine_name(w, b)), shape, nshape, w, b)
    case_layer_norm("ln_5x7_wb_eps1e-3", (5, 7), [7], True, True, eps=1e-3)


def all_rms_norm():
    for shape, nshape in ROW_SHAPES:
        for w in [False, True]:
            case_rms_norm("rms_%s_%s" % (shape_name(shape), affine_name(w, False)), shape, nshape, w, 1e-6)
    case_rms_norm("rms_6x10_w_default_eps", (6, 10), [10], True, None)


# --------------------------------------------------------------------------
# group_norm


def case_group_norm(base, shape, groups, affine_w, affine_b, eps=1e-5):
    for suf, tdt, sdt in DTYPES:
        gen = Gen(base, tdt)
        C = shape[1]
        x = leaf(gen.randn(*shape, scale=2.0, offset=-0.8))
        weight = leaf(gen.randn(C, scale=0.5, offset=1.0)) if affine_w else None
        bias = leaf(gen.randn(C, scale=0.5)) if affine_b else None
        if bias is not None and weight is None:
            # torch 1.13's F.group_norm raises on a bias without a weight: the layer's meaning,
            # normalisation then + bias per channel, written out.
            y = F.group_norm(x, groups, None, None, eps) + bias.view(1, C, *([1] * (x.dim() - 2)))
        else:
            y = F.group_norm(x, groups, weight, bias, eps)
        grad_out = run_backward(y, gen)
        args = {"op": "group_norm", "dtype": sdt, "groups": int(groups), "eps": float(eps)}
        inputs = {"x": x}
        params(inputs, weight, bias)
        inputs["grad_out"] = grad_out
        outputs = {"y": y}
        outputs.update(grads(x, weight, bias))
        write_case("%s_%s" % (base, suf), args, inputs, outputs)


def all_group_norm():
    # spatial sizes 63 | 64 sit on each side of regrad's run-length switch (kLongRun = 64)
    shapes = [((3, 6, 5), 3), ((2, 6, 63), 2), ((2, 6, 64), 3), ((2, 4, 7, 11), 4), ((2, 3, 1), 1), ((1, 5, 3), 5)]
    for shape, groups in shapes:
        for w, b in AFFINE:
            case_group_norm("gn_%s_g%d_%s" % (shape_name(shape), groups, affine_name(w, b)), shape, groups, w, b)


# --------------------------------------------------------------------------
# dropout (given mask)


def case_dropout(base, shape, p, training=True):
    for suf, tdt, sdt in DTYPES:
        gen = Gen(base, tdt)
        x = leaf(gen.randn(*shape))
        args = {"op": "dropout", "dtype": sdt, "p": float(p)}
        if training:
            u = gen.rs.rand(*shape)
            mask = torch.from_numpy((u >= p).astype(np.float64)).to(tdt)
            y = x * mask / (1 - p)
            inputs = {"x": x, "mask": mask}
        else:
            args["eval"] = 1
            y = F.dropout(x, p, training=False)
            inputs = {"x": x}
        inputs["grad_out"] = run_backward(y, gen)
        write_case("%s_%s" % (base, suf), args, inputs, {"y": y, "dx": x.grad})


def all_dropout():
    case_dropout("dropout_6x8_p05", (6, 8), 0.5)
    case_dropout("dropout_4x5x3_p02", (4, 5, 3), 0.2)
    case_dropout("dropout_1x7_p03", (1, 7), 0.3)
    case_dropout("dropout_3x4_p05_eval", (3, 4), 0.5, training=False)


# --------------------------------------------------------------------------
# cross_entropy


def case_cross_entropy(base, shape, label_smoothing, reduction, target_kind, weighted, ignore_index=-100):
    """target_kind: 'index', 'ignore' (indices, about a third of them ignore_index) or 'probs'."""
    for suf, tdt, sdt in DTYPES:
        gen = Gen(base, tdt)
        cdim = 0 if len(shape) == 1 else 1
        K = shape[cdim]
        pos = tuple(s for d, s in enumerate(shape) if d != cdim)
        x = leaf(gen.randn(*shape, scale=2.0))
        weight = gen.rand(K, scale=2.0, offset=0.2) if weighted else None
        if target_kind == "probs":
            target = leaf(torch.softmax(gen.randn(*shape, scale=1.5).double(), dim=cdim).to(tdt))
        else:
            target = gen.randint(K, *pos)
            if target_kind == "ignore":
                flat = target.view(-1)
                drop = torch.from_numpy(gen.rs.rand(flat.numel()) < 0.35)
                drop[0] = False  # at least one position kept: the mean stays finite
                flat[drop] = ignore_index
        y = F.cross_entropy(x, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
                            label_smoothing=label_smoothing)
        grad_out = run_backward(y, gen)
        args = {"op": "cross_entropy", "dtype": sdt, "label_smoothing": float(label_smoothing),
                "reduction": reduction, "ignore_index": int(ignore_index)}
        inputs = {"x": x, "target": target}
        if weight is not None:
            inputs["class_weight"] = weight
        inputs["grad_out"] = grad_out
        outputs = {"y": y, "dx": x.grad}
        if target_kind == "probs":
            outputs["dtarget"] = target.grad
        write_case("%s_%s" % (base, suf), args, inputs, outputs)


def all_cross_entropy():
    # (N, K) = (5, 7); (N, K, d) = (3, 5, 4) with ignore_index 2 (a class) instead of -100
    layouts = [((5, 7), -100), ((3, 5, 4), 2)]
    for (shape, ignore), reduction, ls, kind, weighted in itertools.product(
            layouts, ["mean", "sum", "none"], [0.0, 0.15], ["index", "ignore", "probs"], [False, True]):
        base = "ce_%s_%s_ls%s_%s%s" % (shape_name(shape), reduction, ("%g" % ls).replace(".", ""), kind,
                                       "_weight" if weighted else "")
        case_cross_entropy(base, shape, ls, reduction, kind, weighted, ignore if kind == "ignore" else -100)
    case_cross_entropy("ce_7_unbatched_index", (7,), 0.1, "mean", "index", True)
    case_cross_entropy("ce_7_unbatched_probs", (7,), 0.1, "none", "probs", False)
    case_cross_entropy("ce_4x1_one_class", (4, 1), 0.2, "mean", "index", False)


# --------------------------------------------------------------------------
# optimizers: torch.optim's trajectory


def case_optim(base, opt, shapes, has_grad, steps=5, max_norm=0.0, **hp):
    """has_grad: list over params of the steps (0-based) at which the parameter has a gradient."""
    for suf, tdt, sdt in DTYPES:
        gen = Gen(base, tdt)
        init = [gen.randn(*s) for s in shapes]
        ps = [p.clone().requires_grad_() for p in init]
        # gradients of mixed sizes, some large, so that clipping acts at some steps and not others
        gs = [torch.stack([gen.randn(*s, scale=float(0.5 + 2.5 * (t % 2))) for t in range(steps)]) for s in shapes]
        mask = torch.zeros(steps, len(shapes), dtype=torch.int64)
        for i, at in enumerate(has_grad):
            for t in at:
                mask[t, i] = 1
        if opt == "sgd":
            o = torch.optim.SGD(ps, lr=hp["lr"], momentum=hp.get("momentum", 0.0), dampening=hp.get("dampening", 0.0),
                                weight_decay=hp.get("weight_decay", 0.0), nesterov=hp.get("nesterov", False))
        else:
            o = torch.optim.AdamW(ps, lr=hp["lr"], betas=(hp.get("beta1", 0.9), hp.get("beta2", 0.999)),
                                  eps=hp.get("eps", 1e-8), weight_decay=hp.get("weight_decay", 1e-2))
        traj = [[] for _ in ps]
        norms = []
        for t in range(steps):
            for i, p in enumerate(ps):
                p.grad = gs[i][t].clone() if mask[t, i] else None
            if max_norm > 0:
                norms.append(torch.nn.utils.clip_grad_norm_(ps, max_norm).to(tdt))
            o.step()
            for i, p in enumerate(ps):
                traj[i].append(p.detach().clone())
        args = {"optimizer": opt, "dtype": sdt, "steps": steps, "params": len(shapes), "max_norm": float(max_norm)}
        for k in ["lr", "momentum", "dampening", "weight_decay", "beta1", "beta2", "eps"]:
            if k in hp:
                args[k] = float(hp[k])
        if "nesterov" in hp:
            args["nesterov"] = bool(hp["nesterov"])
        inputs = {}
        for i in range(len(ps)):
            inputs["param%d" % i] = init[i]
            inputs["grad%d" % i] = gs[i]
        inputs["has_grad"] = mask
        outputs = {"param%d" % i: torch.stack(traj[i]) for i in range(len(ps))}
        if max_norm > 0:
            outputs["norm"] = torch.stack(norms)
        write_folder(OPTIM, "%s_%s" % (base, suf), args, inputs, outputs, "optim_cases")


def all_optim():
    shapes = [(3,), (2, 5), (1,)]
    every = [range(5)] * 3
    late = [range(5), [2, 4], range(5)]  # parameter 1: no gradient at steps 0, 1 and 3
    sgd = [
        ("sgd_plain", dict(lr=0.1)),
        ("sgd_momentum", dict(lr=0.1, momentum=0.9)),
        ("sgd_momentum_dampening", dict(lr=0.1, momentum=0.9, dampening=0.3)),
        ("sgd_nesterov", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("sgd_weight_decay", dict(lr=0.1, weight_decay=0.01)),
        ("sgd_all", dict(lr=0.05, momentum=0.8, dampening=0.2, weight_decay=0.03)),
        ("sgd_nesterov_weight_decay", dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.02)),
    ]
    for name, hp in sgd:
        case_optim(name, "sgd", shapes, every, **hp)
    case_optim("sgd_momentum_late_param", "sgd", shapes, late, lr=0.1, momentum=0.9, weight_decay=0.01)
    case_optim("sgd_momentum_clip", "sgd", shapes, every, max_norm=2.0, lr=0.1, momentum=0.9)
    adamw = [
        ("adamw_default", dict(lr=1e-3)),
        ("adamw_betas_eps_decay", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)),
    ]
    for name, hp in adamw:
        case_optim(name, "adamw", shapes, every, **hp)
    case_optim("adamw_late_param", "adamw", shapes, late, lr=0.01, weight_decay=0.05)
    case_optim("adamw_clip", "adamw", shapes, every, max_norm=2.0, lr=0.01)
    case_optim("adamw_late_param_clip", "adamw", shapes, late, max_norm=1.5, lr=0.01)


# --------------------------------------------------------------------------


def main():
    torch.manual_seed(0)  # per-case generators are used; this is belt and braces
    for d in [DATA, OPTIM]:
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    all_batch_norm()
    all_layer_norm()
    all_rms_norm()
    all_group_norm()
    all_dropout()
    all_cross_entropy()
    all_optim()
    print("layers: %d cases, %d expected tensors; optimizers: %d cases, %d expected tensors"
          % (COUNTS["cases"], COUNTS["tensors"], COUNTS["optim_cases"], COUNTS["optim_tensors"]))


if __name__ == "__main__":
    main()
