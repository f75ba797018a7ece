// The 512 -> 10 epoch's two products alone, in C, on this machine: what the w1 target (0.020 s/epoch) leaves
// for everything else. 100,000 rows of 512 floats (huge pages), visited in a shuffled order, 64-row chunks
// split statically over the OpenMP threads, as the batch step splits them.
//
//   gcc -O3 -march=native -fopenmp Scripts/membench/rows_forward.c -o /tmp/rows_forward
//   OMP_NUM_THREADS=2 /tmp/rows_forward
//
// Prints the best of 5 passes (ms per 100,000 rows) of:
//   read       only read every row (the memory floor);
//   forward    4 rows x 5 outputs dot products, twice per 4 rows (10 outputs), as gemmNT;
//   forward+   the same, asking for rows 16 ahead into L2, a few lines per step of the loop;
//   fwd+dW     forward, then dW += dZ^T X per chunk, the rows read again from cache;
//   fwd+dW+    the same with the requests.
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define D 512
#define K 10
#define AHEAD 16
static float W[K][D] __attribute__((aligned(64)));

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

// Rows r[0..3] x outputs o0..o0+4; with p, asks for lines of the rows p[0..3] (3 per step; both calls of a
// group together cover all 128 lines).
static inline void dot4x5(float **r, int o0, float *z, float **p) {
    __m512 a[4][5];
    for (int q = 0; q < 4; q++) for (int o = 0; o < 5; o++) a[q][o] = _mm512_setzero_ps();
    for (int j = 0; j < D; j += 16) {
        if (p) {
            float *row = p[(j >> 4) & 3] + (j >> 6) * 64;
            _mm_prefetch((char *)row, _MM_HINT_T1);
            _mm_prefetch((char *)(row + (o0 == 0 ? 16 : 32)), _MM_HINT_T1);
            _mm_prefetch((char *)(row + 48), _MM_HINT_T1);
        }
        __m512 w[5];
        for (int o = 0; o < 5; o++) w[o] = _mm512_load_ps(&W[o0 + o][j]);
        for (int q = 0; q < 4; q++) {
            __m512 x = _mm512_loadu_ps(r[q] + j);
            for (int o = 0; o < 5; o++) a[q][o] = _mm512_fmadd_ps(x, w[o], a[q][o]);
        }
    }
    for (int q = 0; q < 4; q++) for (int o = 0; o < 5; o++) z[q * K + o0 + o] = _mm512_reduce_add_ps(a[q][o]);
}

int main(void) {
    long n = 100000;
    size_t bytes = n * D * 4;
    float *x;
    if (posix_memalign((void **)&x, 1 << 21, bytes)) return 1;
    madvise(x, bytes, MADV_HUGEPAGE);
    for (long i = 0; i < n * D; i++) x[i] = (i % 7) * 0.1f;
    for (int o = 0; o < K; o++) for (int j = 0; j < D; j++) W[o][j] = 0.01f * (o + 1);
    int *perm = malloc(n * sizeof(int));
    for (long i = 0; i < n; i++) perm[i] = i;
    srand(1);
    for (long i = n - 1; i > 0; i--) { long j = rand() % (i + 1); int t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    float *Z = malloc(n * K * 4);
    for (long i = 0; i < n * K; i++) Z[i] = 0.001f;
    int T = omp_get_max_threads();
    float *G = aligned_alloc(64, (size_t)T * K * D * 4);
    const char *names[] = {"read", "forward", "forward+", "fwd+dW", "fwd+dW+"};
    for (int mode = 0; mode < 5; mode++) {
        int ask = mode == 2 || mode == 4, dw = mode >= 3;
        double best = 1e9;
        float sink = 0;
        for (int rep = 0; rep < 5; rep++) {
            for (long i = 0; i < (long)T * K * D; i++) G[i] = 0;
            double t0 = now();
#pragma omp parallel reduction(+ : sink)
            {
                float *g = G + omp_get_thread_num() * K * D;
#pragma omp for schedule(static, 64)
                for (long i = 0; i < n; i += 64) {
                    float *r[64], *p[68];
                    for (int q = 0; q < 64; q++) r[q] = x + (long)perm[i + q] * D;
                    if (mode == 0) {
                        __m512 a = _mm512_setzero_ps();
                        for (int q = 0; q < 64; q++) for (int j = 0; j < D; j += 16) a = _mm512_add_ps(a, _mm512_loadu_ps(r[q] + j));
                        sink += _mm512_reduce_add_ps(a);
                        continue;
                    }
                    for (int q = 0; q < 68; q++) p[q] = x + (long)perm[(i + q + AHEAD) % n] * D;
                    for (int q = 0; q < 64; q += 4) {
                        dot4x5(r + q, 0, Z + (i + q) * K, ask ? p + q : NULL);
                        dot4x5(r + q, 5, Z + (i + q) * K, ask ? p + q : NULL);
                    }
                    if (dw)
                        for (int j = 0; j < D; j += 16) {
                            __m512 acc[K];
                            for (int o = 0; o < K; o++) acc[o] = _mm512_load_ps(g + o * D + j);
                            for (int q = 0; q < 64; q++) {
                                __m512 xv = _mm512_loadu_ps(r[q] + j);
                                const float *dz = Z + (i + q) * K;
                                for (int o = 0; o < K; o++) acc[o] = _mm512_fmadd_ps(_mm512_set1_ps(dz[o]), xv, acc[o]);
                            }
                            for (int o = 0; o < K; o++) _mm512_store_ps(g + o * D + j, acc[o]);
                        }
                }
            }
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("%-9s %d threads: %6.2f ms per 100,000 rows (%.1f GB/s of rows)%s\n", names[mode], T, best * 1e3,
               bytes / best / 1e9, sink == 12345 ? " " : "");
    }
    return 0;
}
