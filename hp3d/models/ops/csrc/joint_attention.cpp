// Joint attention on batch-last tensors. Every operation works on a vector
// of W hands (GCC/Clang vector extensions: one AVX-512 register, two AVX2
// ones, ...), so the scores of a query never leave registers and L1.
#include <cstdint>

namespace {

constexpr int W = 16;
constexpr int KMAX = 32;  // tokens: the backward keeps K * K score vectors
constexpr int DMAX = 16;  // head dims: one kernel instance each
typedef float V __attribute__((vector_size(W * sizeof(float)), aligned(4)));
typedef int32_t VI __attribute__((vector_size(W * sizeof(int32_t))));

inline V load(const float* p) { return *reinterpret_cast<const V*>(p); }
inline void store(float* p, V x) { *reinterpret_cast<V*>(p) = x; }
inline V splat(float x) { return V{} + x; }
inline V vmax(V a, V b) { return a > b ? a : b; }

// exp(x) for x <= 0: Cephes' expf polynomial (~1 ulp); 0 below -87.3 and
// for -inf (masked keys).
inline V exp_neg(V x) {
  const V xc = vmax(x, splat(-87.3f));
  const V magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to int
  const V n = (xc * 1.44269504088896341f + magic) - magic;
  V r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = splat(1.9875691500E-4f);
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.0f;
  const VI bits = (__builtin_convertvector(n, VI) + 127) << 23;
  const V result = p * __builtin_bit_cast(V, bits);
  return x < -87.3f ? V{} : result;
}

// One head's q, k, v for a group of hands, copied out of the strided
// (D, K, B) tensors (rows B floats apart fall into a few L1 sets and evict
// each other) into key-major arrays: q[j * D + d].
template <int D>
struct Group {
  V q[KMAX * D], k[KMAX * D], v[KMAX * D];
  V bias[KMAX];
  int K;

  Group(const float* qkv, int64_t C, const float* key_bias, int K_, int64_t B)
      : K(K_) {
    const int64_t KB = K * B;
    for (int d = 0; d < D; ++d)
      for (int j = 0; j < K; ++j) {
        const float* row = qkv + d * KB + j * B;
        q[j * D + d] = load(row);
        k[j * D + d] = load(row + C * KB);
        v[j * D + d] = load(row + 2 * C * KB);
      }
    for (int j = 0; j < K; ++j)
      bias[j] = key_bias ? load(key_bias + j * B) : V{};
  }

  // s[j] = q_i . k_j * scale + bias_j for every key j; returns max_j s[j].
  V scores(int i, float scale, V* s) const {
    V qi[D];
    for (int d = 0; d < D; ++d) qi[d] = q[i * D + d] * scale;
    V m = splat(-__builtin_inff());
    for (int j = 0; j < K; ++j) {
      V t = bias[j];
      for (int d = 0; d < D; ++d) t += qi[d] * k[j * D + d];
      s[j] = t;
      m = vmax(m, t);
    }
    return m;
  }
};

// One head and group of hands; out: (D, K, B), row_max, row_inv: (K, B)
// (the softmax statistics the backward recomputes the probabilities from;
// saving the (K, K, B) probabilities instead made both passes memory-bound).
template <int D>
void forward_group(const Group<D>& g, float* out, float* row_max,
                   float* row_inv, int64_t B, float scale) {
  const int K = g.K;
  const int64_t KB = K * B;
  V s[KMAX];
  for (int i = 0; i < K; ++i) {
    const V m = g.scores(i, scale, s);
    V sum{}, acc[D] = {};
    for (int j = 0; j < K; ++j) {
      const V e = exp_neg(s[j] - m);
      sum += e;
      for (int d = 0; d < D; ++d) acc[d] += e * g.v[j * D + d];
    }
    const V inv = 1.0f / sum;
    store(row_max + i * B, m);
    store(row_inv + i * B, inv);
    for (int d = 0; d < D; ++d) store(out + d * KB + i * B, acc[d] * inv);
  }
}

// Gradients of one head and group: grad_out, grad (3 x (D, K, B): dq, dk,
// dv C * K * B floats apart). Two passes: the probabilities P and score
// gradients dS of every (query, key) pair first, then dk, dv sums over the
// queries of each key in registers (accumulating them per query instead
// stored every dk, dv row K times: 512-bit stores are this loop's limit).
template <int D>
void backward_group(const Group<D>& g, const float* row_max,
                    const float* row_inv, const float* grad_out, float* grad,
                    int64_t C, int64_t B, float scale) {
  const int K = g.K;
  const int64_t KB = K * B;
  V p[KMAX * KMAX], ds[KMAX * KMAX];  // [i * K + j]; K * K are used
  V go[KMAX * D];
  for (int d = 0; d < D; ++d)
    for (int i = 0; i < K; ++i) go[i * D + d] = load(grad_out + d * KB + i * B);
  for (int i = 0; i < K; ++i) {
    V* pi = p + i * K;
    V* dsi = ds + i * K;
    g.scores(i, scale, pi);
    const V m = load(row_max + i * B), inv = load(row_inv + i * B);
    V rowdot{};
    for (int j = 0; j < K; ++j) {
      pi[j] = exp_neg(pi[j] - m) * inv;
      V dp{};
      for (int d = 0; d < D; ++d) dp += go[i * D + d] * g.v[j * D + d];
      dsi[j] = dp;
      rowdot += pi[j] * dp;
    }
    V dq[D] = {};
    for (int j = 0; j < K; ++j) {
      dsi[j] = pi[j] * (dsi[j] - rowdot) * scale;
      for (int d = 0; d < D; ++d) dq[d] += dsi[j] * g.k[j * D + d];
    }
    for (int d = 0; d < D; ++d) store(grad + d * KB + i * B, dq[d]);
  }
  for (int j = 0; j < K; ++j) {
    V dk[D] = {}, dv[D] = {};
    for (int i = 0; i < K; ++i) {
      const V pij = p[i * K + j], dsij = ds[i * K + j];
      for (int d = 0; d < D; ++d) {
        dk[d] += dsij * g.q[i * D + d];
        dv[d] += pij * go[i * D + d];
      }
    }
    for (int d = 0; d < D; ++d) {
      store(grad + C * KB + d * KB + j * B, dk[d]);
      store(grad + 2 * C * KB + d * KB + j * B, dv[d]);
    }
  }
}

// fn(group, offset, stat_offset) for every (head, group of W hands) pair, in
// parallel; B a multiple of W. Offsets: qkv, grads (3, H, D, K, B); out,
// grad_out (H, D, K, B) at offset; stats (H, K, B) at stat_offset.
template <int D, typename Fn>
void for_each_group(const float* qkv, const float* bias, int H, int K,
                    int64_t B, int threads, Fn fn) {
  const int64_t KB = K * B, C = static_cast<int64_t>(H) * D;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int h = 0; h < H; ++h)
    for (int64_t b0 = 0; b0 < B; b0 += W) {
      const int64_t off = h * D * KB + b0;
      fn(Group<D>(qkv + off, C, bias ? bias + b0 : nullptr, K, B), off,
         h * KB + b0);
    }
}

template <int D>
void forward(const float* qkv, const float* bias, float* out, float* row_max,
             float* row_inv, int H, int K, int64_t B, float scale,
             int threads) {
  for_each_group<D>(qkv, bias, H, K, B, threads,
                    [&](const Group<D>& g, int64_t off, int64_t stat) {
                      forward_group(g, out + off, row_max + stat,
                                    row_inv + stat, B, scale);
                    });
}

template <int D>
void backward(const float* qkv, const float* bias, const float* row_max,
              const float* row_inv, const float* grad_out, float* grad_qkv,
              int H, int K, int64_t B, float scale, int threads) {
  const int64_t C = static_cast<int64_t>(H) * D;
  for_each_group<D>(qkv, bias, H, K, B, threads,
                    [&](const Group<D>& g, int64_t off, int64_t stat) {
                      backward_group(g, row_max + stat, row_inv + stat,
                                     grad_out + off, grad_qkv + off, C, B,
                                     scale);
                    });
}

}  // namespace

// D as a template argument lets the compiler keep a query's D dims and the
// D output accumulators in registers.
#define HP3D_FOR_HEAD_DIMS(CALL)                                          \
  switch (D) {                                                            \
    case 1: CALL(1); break;   case 2: CALL(2); break;                     \
    case 3: CALL(3); break;   case 4: CALL(4); break;                     \
    case 5: CALL(5); break;   case 6: CALL(6); break;                     \
    case 7: CALL(7); break;   case 8: CALL(8); break;                     \
    case 9: CALL(9); break;   case 10: CALL(10); break;                   \
    case 11: CALL(11); break; case 12: CALL(12); break;                   \
    case 13: CALL(13); break; case 14: CALL(14); break;                   \
    case 15: CALL(15); break; case 16: CALL(16); break;                   \
  }

extern "C" {

int hp3d_joint_attention_group() { return W; }
int hp3d_joint_attention_max_joints() { return KMAX; }
int hp3d_joint_attention_max_head_dims() { return DMAX; }

// qkv: (3, H, D, K, B), B a multiple of W; bias: (K, B) or null;
// out: (H, D, K, B); row_max, row_inv: (H, K, B).
void hp3d_joint_attention_forward(const float* qkv, const float* bias,
                                  float* out, float* row_max, float* row_inv,
                                  int H, int D, int K, int64_t B, float scale,
                                  int threads) {
#define HP3D_CALL(N) \
  forward<N>(qkv, bias, out, row_max, row_inv, H, K, B, scale, threads)
  HP3D_FOR_HEAD_DIMS(HP3D_CALL)
#undef HP3D_CALL
}

// grad_qkv: (3, H, D, K, B), written whole.
void hp3d_joint_attention_backward(const float* qkv, const float* bias,
                                   const float* row_max, const float* row_inv,
                                   const float* grad_out, float* grad_qkv,
                                   int H, int D, int K, int64_t B, float scale,
                                   int threads) {
#define HP3D_CALL(N)                                                      \
  backward<N>(qkv, bias, row_max, row_inv, grad_out, grad_qkv, H, K, B,  \
              scale, threads)
  HP3D_FOR_HEAD_DIMS(HP3D_CALL)
#undef HP3D_CALL
}

}
