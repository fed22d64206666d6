#!/usr/bin/python3
"""PyTorch's side of the training-step bench (bench/bench_train.cpp): the same MLP
(784-512-512-10, BatchNorm1d, ReLU, Dropout(0.1)) at batch 128 and CNN (2 × conv3×3 → BatchNorm2d
→ ReLU → maxpool, Linear 3136→128, Dropout, Linear 128→10) at batch 64, label-smoothed
cross-entropy (0.1), SGD(momentum 0.9, weight decay 5e-4). Prints "model,ms_per_step" (the
smallest of 3 round medians). The caller sets the thread and malloc environment before start-up.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_torch import median_ms  # the same timing as the layer bench (this script's folder is on sys.path)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.1), nn.Linear(512, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    torch.set_num_threads(ap.parse_args().threads)
    torch.manual_seed(0)
    for name, make, batch, reps in [("mlp", mlp, 128, 51), ("cnn", cnn, 64, 11)]:
        net = make()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

        def step():
            loss = F.cross_entropy(net(x), y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()

        best = min(median_ms(step, reps) for _ in range(3))
        print(f"{name},{best:.4f}", flush=True)


if __name__ == "__main__":
    main()
