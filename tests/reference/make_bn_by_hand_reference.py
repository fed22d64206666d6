#!/usr/bin/python3
"""PyTorch reference for notebook 6b (experiments/bn_by_hand): nn.BatchNorm1d on the program's batch.

`build/bn_by_hand --export-reference experiments/bn_by_hand/reference/<dtype>` writes one batch's
hprebn (32, 64), the layer's gain and bias (64), the upstream gradient dhpreact and fresh running
statistics (zeros, ones), for dtype float32 and float64. This script runs torch.nn.BatchNorm1d(64)
(eps 1e-5, momentum 0.1, training mode) on them with that weight and bias, backpropagates
dhpreact, and writes into <dir>/expected: y, dx, dweight, dbias and the updated running_mean and
running_var. The files are committed; the tests and the program compare against them, so neither
needs torch. Rerun (Debian's python3-torch):

    /usr/bin/python3 tests/reference/make_bn_by_hand_reference.py
"""
import os

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "experiments", "bn_by_hand", "reference")

for dtype_name in ["float32", "float64"]:
    d = os.path.join(ROOT, dtype_name)
    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name + ".npy")))
    x = load("hprebn").clone().requires_grad_()
    bn = torch.nn.BatchNorm1d(x.shape[1], eps=1e-5, momentum=0.1).to(x.dtype)
    with torch.no_grad():
        bn.weight.copy_(load("bngain"))
        bn.bias.copy_(load("bnbias"))
        bn.running_mean.copy_(load("running_mean"))
        bn.running_var.copy_(load("running_var"))
    bn.train()
    y = bn(x)
    y.backward(load("dhpreact"))
    out = os.path.join(d, "expected")
    os.makedirs(out, exist_ok=True)
    for name, t in [("y", y), ("dx", x.grad), ("dweight", bn.weight.grad), ("dbias", bn.bias.grad),
                    ("running_mean", bn.running_mean), ("running_var", bn.running_var)]:
        np.save(os.path.join(out, name + ".npy"), t.detach().numpy())
    print(dtype_name, "y", tuple(y.shape), "running_var[:3]", bn.running_var[:3].tolist())
