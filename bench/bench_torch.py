#!/usr/bin/python3
"""PyTorch's side of `make bench` (Debian's python3-torch 1.13, CPU).

Prints one CSV line per case: op,shape,fwd_ms,fwdbwd_ms (the smallest of 3 round medians), for the same ops, shapes,
dtype (float32) and arguments as bench/bench_layers.cpp. The caller sets OMP_NUM_THREADS and
glibc's MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_, and passes on its own OMP_WAIT_POLICY, before this
process starts (thread pools and malloc read them at start-up); --threads is applied again with
torch.set_num_threads. RMSNorm is composed (torch 1.13 has no RMSNorm), as users of 1.13 write it.
"""
import argparse
import time

ROUNDS = 3  # as bench_layers.cpp: the smallest of ROUNDS round medians, rounds spread over the run

import torch
import torch.nn.functional as F


def median_ms(fn, reps):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for (N, D, large) in [(4096, 1024, True), (256, 4096, False)]:
        w = torch.ones(D, requires_grad=True)
        b = torch.zeros(D, requires_grad=True)
        rm, rv = torch.zeros(D), torch.ones(D)
        C = 64
        GN, S = (N, D // C) if large else (64, 256)  # as bench_layers.cpp
        gw = torch.ones(C, requires_grad=True)
        gb = torch.zeros(C, requires_grad=True)
        K = 1000 if large else 4096
        t = torch.randint(0, K, (N,))
        cases = [
            ("batch_norm", (N, D), lambda x: F.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5)),
            ("layer_norm", (N, D), lambda x: F.layer_norm(x, (D,), w, b, 1e-5)),
            ("rms_norm", (N, D), lambda x: rms_norm(x, w)),
        ]
        cases.append(("group_norm", (GN, C, S), lambda x: F.group_norm(x, 8, gw, gb, 1e-5)))
        cases += [
            ("dropout", (N, D), lambda x: F.dropout(x, 0.1, True)),
            ("cross_entropy", (N, K), lambda x: F.cross_entropy(x, t, label_smoothing=0.1)),
        ]
        reps = 15 if large else 41
        best = {}
        for _ in range(ROUNDS):
            for name, shape, fn in cases:
                x = torch.randn(*shape)
                with torch.no_grad():
                    fwd = median_ms(lambda: fn(x), reps)
                xg = x.clone().requires_grad_()
                y0 = fn(xg)
                dy = torch.ones(()) if y0.dim() == 0 else torch.randn_like(y0)

                def step():
                    xg.grad = None
                    fn(xg).backward(dy)

                fb = median_ms(step, reps)
                key = (name, "x".join(map(str, shape)))
                old = best.get(key, (1e30, 1e30))
                best[key] = (min(old[0], fwd), min(old[1], fb))
        for (name, shape), (fwd, fb) in best.items():
            print(f"{name},{shape},{fwd:.4f},{fb:.4f}", flush=True)


if __name__ == "__main__":
    main()
