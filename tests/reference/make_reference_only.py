#!/usr/bin/python3
"""PyTorch reference data for what only regrad's reference kernels do today.

The fast kernels have no class weights or ignore_index in cross_entropy yet, and
LayerNorm/GroupNorm drop a bias given without a weight; the reference kernels
(src/functional/reference/) implement PyTorch's definitions of all three. This
script writes such cases to tests/reference/data_reference_only/, in the layout
of make_reference.py (README.md), plus an args key `ignore_index`, an input
`class_weight.npy` (cross_entropy's per-class weights) and, for probability
targets, `expected/dtarget.npy` (PyTorch differentiates the target). The C++
tests run these cases through the reference kernels only; move them into
make_reference.py as the fast kernels catch up.

    /usr/bin/python3 tests/reference/make_reference_only.py
"""

import os
import shutil

import torch
import torch.nn.functional as F

import make_reference as mr

mr.DATA = os.path.join(mr.HERE, "data_reference_only")


def case_cross_entropy(base, N, K, label_smoothing, reduction, weighted, ignore_index=-100, ignored=(), soft=False):
    for suf, tdt, sdt in mr.DTYPES:
        gen = mr.Gen(base, tdt)
        x = mr.leaf(gen.randn(N, K, scale=2.0))
        if soft:
            target = mr.leaf(torch.softmax(gen.randn(N, K, scale=1.5).double(), dim=1).to(tdt))
        else:
            target = gen.randint(K, N)
            for i in ignored:
                target[i] = ignore_index
        weight = gen.rand(K, offset=0.5) if weighted else None
        y = F.cross_entropy(x, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
                            label_smoothing=label_smoothing)
        grad_out = mr.run_backward(y, gen)
        args = {"op": "cross_entropy", "dtype": sdt, "label_smoothing": float(label_smoothing),
                "reduction": reduction, "ignore_index": int(ignore_index)}
        inputs = {"x": x, "target": target, "grad_out": grad_out}
        if weighted:
            inputs["class_weight"] = weight
        outputs = {"y": y, "dx": x.grad}
        if soft:
            outputs["dtarget"] = target.grad
        mr.write_case("%s_%s" % (base, suf), args, inputs, outputs)


def case_bias_only(base, op, shape, eps=1e-5, groups=None, nshape=None):
    for suf, tdt, sdt in mr.DTYPES:
        gen = mr.Gen(base, tdt)
        x = mr.leaf(gen.randn(*shape, scale=2.0, offset=0.7))
        if op == "layer_norm":
            bias = mr.leaf(gen.randn(*nshape, scale=0.5))
            y = F.layer_norm(x, tuple(nshape), None, bias, eps)
            args = {"op": op, "dtype": sdt, "normalized_shape": nshape, "eps": float(eps)}
        else:
            bias = mr.leaf(gen.randn(shape[1], scale=0.5))
            # F.group_norm(x, groups, None, bias) is PyTorch's definition, but 1.13's CPU backward of
            # it fails ("tensor does not have a device"); adding the bias outside is the same function.
            y = F.group_norm(x, groups, None, None, eps) + bias.view(1, -1, *([1] * (len(shape) - 2)))
            args = {"op": op, "dtype": sdt, "groups": int(groups), "eps": float(eps)}
        grad_out = mr.run_backward(y, gen)
        inputs = {"x": x, "bias": bias, "grad_out": grad_out}
        mr.write_case("%s_%s" % (base, suf), args, inputs, {"y": y, "dx": x.grad, "dbias": bias.grad})


def main():
    if os.path.isdir(mr.DATA):
        shutil.rmtree(mr.DATA)
    os.makedirs(mr.DATA)
    case_cross_entropy("ce_weight_ignore_ls02_mean", 7, 5, 0.2, "mean", True, ignored=(1, 4))
    case_cross_entropy("ce_weight_ignore_none", 7, 5, 0.1, "none", True, ignored=(0,))
    case_cross_entropy("ce_weight_sum", 6, 4, 0.0, "sum", True)
    case_cross_entropy("ce_ignore2_ls01_mean", 8, 5, 0.1, "mean", False, ignore_index=2, ignored=(3, 5))
    case_cross_entropy("ce_soft_weight_ls03_mean", 6, 5, 0.3, "mean", True, soft=True)
    case_bias_only("ln_bias_only", "layer_norm", (6, 10), nshape=[10])
    case_bias_only("gn_bias_only", "group_norm", (3, 6, 5), groups=3)
    case_bias_only("gn_long_bias_only", "group_norm", (2, 4, 9, 9), groups=2)


if __name__ == "__main__":
    main()
