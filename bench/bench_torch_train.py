#!/usr/bin/python3
"""PyTorch's side of the training-step bench (bench/bench_train.cpp): the same MLP
(784-512-512-10, BatchNorm1d, ReLU, Dropout(0.1)) at batch 128 and CNN (2 × conv3×3 → BatchNorm2d
→ maxpool → ReLU, the order regrad's make_model computes ReLU → maxpool in; Linear 3136→128,
Dropout, Linear 128→10) at batch 64, label-smoothed
cross-entropy (0.1), SGD(momentum 0.9, weight decay 5e-4), also at batch 2 and 8 (the small-batch
rows). Prints "model-batch,ms_per_step" (the smallest of 3 round medians), e.g. "mlp-128", "cnn-8". Then the character Transformer of bench_train.cpp: token and position
embeddings (27 symbols, context 8, width 64), 2 or 6 pre-norm blocks (LayerNorm → causal 4-head
attention with a fused qkv projection → residual; LayerNorm → Linear 64→256 → GELU → Linear → residual),
a final LayerNorm and a head on every position, cross-entropy over all 8 positions, AdamW, batch 128
("transformer-2", "transformer-6"). --only names the cases to run (default: all). The caller sets the
thread and malloc environment before start-up.
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
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


class Block(nn.Module):
    def __init__(self, c=64, heads=4):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.fc1, self.fc2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (c // self.heads) ** 0.5
        att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class CharTransformer(nn.Module):
    def __init__(self, layers, vocab=27, block=8, c=64):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, c), nn.Parameter(torch.randn(block, c))
        self.blocks = nn.Sequential(*[Block(c) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(c), nn.Linear(c, vocab)

    def forward(self, x):
        return self.head(self.ln(self.blocks(self.tok(x) + self.pos)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--only", default="mlp-128,cnn-64,mlp-2,mlp-8,cnn-2,cnn-8,transformer-2,transformer-6")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name in args.only.split(","):
        model, size = name.rsplit("-", 1)
        if model == "transformer":
            layers, batch, reps = int(size), 128, 21
            net = CharTransformer(layers)
            opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
            x, y = torch.randint(0, 27, (batch, 8)), torch.randint(0, 27, (batch, 8))

            def loss_fn():
                return F.cross_entropy(net(x).transpose(1, 2), y)
        else:
            batch = int(size)
            # as bench_train.cpp: 51 reps for the MLP at batch 128, 11 for the CNN at 64, 101 for small batches
            reps = 101 if batch < 32 else 51 if model == "mlp" else 11
            net = {"mlp": mlp, "cnn": cnn}[model]()
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

            def loss_fn():
                return F.cross_entropy(net(x), y, label_smoothing=0.1)

        def step():
            loss = loss_fn()
            opt.zero_grad(set_to_none=True)  # as regrad's side and train::fit
            loss.backward()
            opt.step()

        best = min(median_ms(step, reps) for _ in range(3))
        print(f"{name},{best:.4f}", flush=True)


if __name__ == "__main__":
    main()
