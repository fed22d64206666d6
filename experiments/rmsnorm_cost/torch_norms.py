#!/usr/bin/python3
"""PyTorch's side of experiments/rmsnorm_cost (Debian's python3-torch 1.13, CPU, float32).

For each ROWSxWIDTH given, times LayerNorm (F.layer_norm) and RMSNorm alternating step by step, as
the C++ side does: forward under no_grad, and forward + backward(dy). torch 1.13 has no RMSNorm, so
it is composed as its users write it: x * rsqrt(mean(x^2) + eps) * w. Prints one CSV line per shape:
rows,width,ln_fwd_ms,rms_fwd_ms,ln_fwdbwd_ms,rms_fwdbwd_ms (medians). The caller fixes the thread
count through OMP_NUM_THREADS before start-up; --threads is applied again with torch.set_num_threads.
"""
import argparse
import time

import torch
import torch.nn.functional as F


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def alternating_ms(f, g, reps):
    for _ in range(5):
        f(), g()
    tf, tg = [], []
    for _ in range(reps):
        t = time.perf_counter(); f(); tf.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter(); g(); tg.append((time.perf_counter() - t) * 1e3)
    tf.sort(); tg.sort()
    return tf[reps // 2], tg[reps // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--reps", type=int, required=True, help="repetitions at 2048x256; fewer for larger shapes")
    ap.add_argument("shapes", nargs="+", help="ROWSxWIDTH")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for s in a.shapes:
        n, d = (int(v) for v in s.split("x"))
        reps = max(15, a.reps * 2048 * 256 // (n * d))
        x = torch.randn(n, d, requires_grad=True)
        dy = torch.randn(n, d)
        w = torch.ones(d, requires_grad=True)
        b = torch.zeros(d, requires_grad=True)

        def fwd(rms):
            def run():
                with torch.no_grad():
                    rms_norm(x, w) if rms else F.layer_norm(x, (d,), w, b)
            return run

        def fwdbwd(rms):
            def run():
                y = rms_norm(x, w) if rms else F.layer_norm(x, (d,), w, b)
                y.backward(dy)
                x.grad = w.grad = b.grad = None
            return run

        lf, rf = alternating_ms(fwd(False), fwd(True), reps)
        lb, rb = alternating_ms(fwdbwd(False), fwdbwd(True), reps)
        print(f"{n},{d},{lf:.4f},{rf:.4f},{lb:.4f},{rb:.4f}", flush=True)


if __name__ == "__main__":
    main()
