// Multi-head causal self-attention on packed projections, the core of CausalSelfAttention.
#pragma once
#include "regrad/tensor/tensor.h"

namespace rg {

// qkv (B, T, 3C) holds q, k and v side by side along its last dim (q = [0, C), k = [C, 2C),
// v = [2C, 3C)), each split into num_heads heads of D = C/num_heads. Per head, with row t of the
// head's slice of q written q_t:
//   A = softmax(q·kᵀ/√D with s > t masked out),  y = A·v,
// and the heads are written side by side into y (B, T, C): PyTorch's
// F.scaled_dot_product_attention(q, k, v, is_causal=True) on the heads, concatenated back. Large
// heads run as GEMMs that read and write the heads where they lie (leading dims 3C and C); small
// ones (T ≤ 32 and D ≤ 16, the experiments' 8×16 heads) as row loops that copy the head's k (in
// the backward, v) transposed into a buffer first.
// Caches A; backward in docs/derivations.md#attention.
Tensor causal_attention(const Tensor& qkv, int64_t num_heads);

}  // namespace rg
