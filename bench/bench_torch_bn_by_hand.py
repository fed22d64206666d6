#!/usr/bin/python3
"""PyTorch's side of the bench's notebook 6b row (bench/bench_train.cpp, section "small"): the
training loop of experiments/bn_by_hand (makemore part 4's MLP with BatchNorm1d: context 3, embedding
10, hidden 64 or 200, batch 32) with the forward split into the same atoms and the same hand-written
backward, in torch tensor ops under no_grad (no autograd), SGD at lr 0.1, BatchNorm's running
statistics, and the loss read back every step. Data: 200,000 random contexts, as the C++ side.

The backward is the notebook's, written with tensor ops where the C++ loops over elements (the
picked log-probabilities and the embedding's gradient, index_add_): that is how PyTorch users write
it, and the fair baseline. Prints "bn_by_hand-<hidden>,ms_per_step" (the smallest of 3 round
medians of 11 timed blocks of 50 steps). The caller sets the thread and malloc environment.
"""
import argparse

import torch
import torch.nn.functional as F

from bench_torch import median_ms  # the same timing as the other bench scripts

BLOCK, EMBED, VOCAB, EPS, BATCH, STEPS = 3, 10, 27, 1e-5, 32, 50


def init_params(hidden, g):
    """As bnh::init_params: makemore part 4's initialisation."""
    C = torch.randn(VOCAB, EMBED, generator=g)
    W1 = torch.randn(EMBED * BLOCK, hidden, generator=g) * ((5 / 3) / (EMBED * BLOCK) ** 0.5)
    b1 = torch.randn(hidden, generator=g) * 0.1
    W2 = torch.randn(hidden, VOCAB, generator=g) * 0.1
    b2 = torch.randn(VOCAB, generator=g) * 0.1
    bngain = torch.randn(1, hidden, generator=g) * 0.1 + 1.0
    bnbias = torch.randn(1, hidden, generator=g) * 0.1
    return [C, W1, b1, W2, b2, bngain, bnbias]


def train(params, running, X, Y, steps, lr, g):
    C, W1, b1, W2, b2, bngain, bnbias = params
    m, bessel = 0.1, BATCH / (BATCH - 1)
    for _ in range(steps):
        ix = torch.randint(0, X.shape[0], (BATCH,), generator=g)
        Xb, Yb = X[ix], Y[ix]
        n = BATCH
        # forward, one atom per line
        emb = C[Xb]
        embcat = emb.view(n, -1)
        hprebn = embcat @ W1 + b1
        bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
        bndiff = hprebn - bnmeani
        bndiff2 = bndiff ** 2
        bnvar = 1 / n * bndiff2.sum(0, keepdim=True)
        bnvar_inv = (bnvar + EPS) ** -0.5
        bnraw = bndiff * bnvar_inv
        hpreact = bngain * bnraw + bnbias
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        logit_maxes = logits.max(1, keepdim=True).values
        norm_logits = logits - logit_maxes
        counts = norm_logits.exp()
        counts_sum = counts.sum(1, keepdim=True)
        counts_sum_inv = counts_sum ** -1
        probs = counts * counts_sum_inv
        logprobs = probs.log()
        loss = -logprobs.gather(1, Yb.view(n, 1)).mean()
        # backward by hand, bottom-up
        dlogprobs = torch.zeros_like(logprobs)
        dlogprobs[range(n), Yb] = -1.0 / n
        dprobs = (1.0 / probs) * dlogprobs
        dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)
        dcounts = counts_sum_inv * dprobs
        dcounts_sum = -counts_sum ** -2 * dcounts_sum_inv
        dcounts += torch.ones_like(counts) * dcounts_sum
        dnorm_logits = counts * dcounts
        dlogits = dnorm_logits.clone()
        dlogit_maxes = -dnorm_logits.sum(1, keepdim=True)
        dlogits += F.one_hot(logits.max(1).indices, num_classes=VOCAB) * dlogit_maxes
        dh = dlogits @ W2.T
        dW2 = h.T @ dlogits
        db2 = dlogits.sum(0)
        dhpreact = (1.0 - h ** 2) * dh
        dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
        dbnraw = bngain * dhpreact
        dbnbias = dhpreact.sum(0, keepdim=True)
        dbndiff = bnvar_inv * dbnraw
        dbnvar_inv = (bndiff * dbnraw).sum(0, keepdim=True)
        dbnvar = -0.5 * (bnvar + EPS) ** -1.5 * dbnvar_inv
        dbndiff2 = 1 / n * torch.ones_like(bndiff2) * dbnvar
        dbndiff += 2 * bndiff * dbndiff2
        dhprebn = dbndiff.clone()
        dbnmeani = -dbndiff.sum(0, keepdim=True)
        dhprebn += 1 / n * torch.ones_like(hprebn) * dbnmeani
        dembcat = dhprebn @ W1.T
        dW1 = embcat.T @ dhprebn
        db1 = dhprebn.sum(0)
        demb = dembcat.view(emb.shape)
        dC = torch.zeros_like(C)
        dC.index_add_(0, Xb.view(-1), demb.view(-1, EMBED))
        for p, grad in zip(params, [dC, dW1, db1, dW2, db2, dbngain, dbnbias]):
            p += -lr * grad
        running[0] = running[0] * (1 - m) + bnmeani * m
        running[1] = running[1] * (1 - m) + bnvar * (m * bessel)
        loss.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--only", default="bn_by_hand-64,bn_by_hand-200")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(3)
    X, Y = torch.randint(0, VOCAB, (200000, BLOCK), generator=g), torch.randint(0, VOCAB, (200000,), generator=g)
    with torch.no_grad():
        for name in args.only.split(","):
            hidden = int(name.rsplit("-", 1)[1])
            params = init_params(hidden, torch.Generator().manual_seed(42))
            running = [torch.zeros(1, hidden), torch.ones(1, hidden)]
            best = min(median_ms(lambda: train(params, running, X, Y, STEPS, 0.1, g), 11) for _ in range(3)) / STEPS
            print(f"{name},{best:.5f}", flush=True)


if __name__ == "__main__":
    main()
