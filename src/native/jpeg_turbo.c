/*
 * imgstream's native JPEG fast path: one call decodes a JPEG with libjpeg-turbo (TurboJPEG API) at the
 * DCT scale the target allows (1/2, 1/4, 1/8), then resamples, orients, crops, converts the colour and
 * the dtype in one pass that writes straight into the caller's typed array (a ring slot, usually a view
 * on a SharedArrayBuffer). The only intermediate buffers are the decoded (already shrunk) image and one
 * row of floats; both are kept per thread and reused.
 *
 * decode(jpeg, out, params, scale, offset) -> status
 *   params: Int32Array laid out as abi.h's DECODE_PARAM_* (size, channels, orientation, crop, interpolation,
 *   region); status: DECODE_STATUS_OK, `out` holds the pixels, or why the file is left to the general decoder.
 *   In three steps: parse_request, plan_decode (header and geometry, before any pixel), decode_pixels and
 *   resample.
 */
#include <math.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "turbojpeg_api.h"

#define ENCODE_STEPS 16384
#define KEEP_PIXELS_BYTES (16u << 20)

typedef float v4f __attribute__((vector_size(16)));

/* One axis of the resampling: for each output index, the first source index, the tap count and weights. */
typedef struct {
  int *start;
  int *count;
  float *weights;
  int max_taps;
} Axis;

/*
 * The taps of one axis for one (source length, output length, scale, offset, kernel, mirror), computed once and
 * kept: they depend only on the geometry, and a dataset has a handful of image sizes. The horizontal axis of the
 * RGB case also holds its taps in pairs, broadcast (horizontal_rgb), the same number of pairs for every output
 * pixel (zero weights past a pixel's own taps), so that the pass has no per-pixel trip count.
 */
#define AXIS_PLANS 8
typedef struct {
  int out_len, src_len, interp, mirror, paired;
  double scale, offset;
  unsigned used; /* the state's clock when last used; 0: empty */
  Axis axis;
  int lo, hi;    /* the source range the taps cover */
  int pairs;     /* paired: taps per output pixel, in pairs */
  int read_hi;   /* paired: one past the last source pixel the pairs read */
  float *pair_weights;
  /* Unpaired (the vertical axis): each output's weights in fixed point (FIXED_ONE = 1), two int16 per int32 (the
   * even tap in the low half), ceil(count / 2) of them from fixed + i * fixed_stride, summing to FIXED_ONE. */
  int32_t *fixed;
  int fixed_stride;
  size_t start_cap, count_cap, weights_cap, pair_weights_cap, fixed_cap;
} AxisPlan;

/* The vertical pass's fixed point: 14 fractional bits keep a weight of 1 within int16, and a sum over the taps
 * of a byte times the weights (at most 255 * FIXED_ONE, the weights summing to one) exact in a float. */
#define FIXED_BITS 14
#define FIXED_ONE (1 << FIXED_BITS)

typedef struct {
  const TurboJpeg *api; /* set with `tj` on the first decode, once a library is open */
  tjhandle tj;
  unsigned char *pixels;
  size_t pixels_cap;
  float *scratch;
  size_t scratch_cap;
  float *line; /* one output row of RGB floats before rounding, and the float output's per-value scale and offset */
  size_t line_cap;
  const unsigned char **taps; /* the source rows of one output row's vertical taps */
  size_t taps_cap;
  AxisPlan plans[AXIS_PLANS]; /* the taps of the last axes resampled, kept for the next file of the same size */
  unsigned plan_clock;
  float to_linear[256];
  unsigned char from_linear[ENCODE_STEPS + 1];
} State;

static double srgb_to_linear(double v) { return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4); }
static double linear_to_srgb(double l) { return l <= 0.0031308 ? l * 12.92 : 1.055 * pow(l, 1 / 2.4) - 0.055; }

static void state_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  State *s = data;
  if (s->tj) s->api->Destroy(s->tj);
  free(s->pixels);
  free(s->scratch);
  free(s->line);
  for (int i = 0; i < AXIS_PLANS; i++) {
    free(s->plans[i].axis.start);
    free(s->plans[i].axis.count);
    free(s->plans[i].axis.weights);
    free(s->plans[i].pair_weights);
    free(s->plans[i].fixed);
  }
  free(s->taps);
  free(s);
}

/* The decode buffer is kept for the next file, unless a rare huge one grew it: memory stays bounded. */
static void release_if_large(State *s) {
  if (s->pixels_cap <= KEEP_PIXELS_BYTES) return;
  free(s->pixels);
  s->pixels = NULL;
  s->pixels_cap = 0;
}

static int grow(void **buf, size_t *cap, size_t bytes) {
  if (*cap >= bytes) return 1;
  void *next = realloc(*buf, bytes);
  if (!next) return 0;
  *buf = next;
  *cap = bytes;
  return 1;
}

/*
 * The weights of one output pixel along one axis, as libvips' resize computes them with the linear kernel:
 * when shrinking by more than 2, a box average over blocks of k = floor(shrink / 2) pixels first (the last
 * block partial), then a triangle whose radius is the remaining shrink (bilinear when enlarging, antialiased
 * when shrinking), centre-aligned, taps outside the image dropped and the rest renormalised. Both steps are
 * folded into one set of taps over the source pixels, so the image is only read once.
 */
static void axis_taps(Axis *a, int out_len, int src_len, double scale, double offset, int interp) {
  int box = interp == INTERPOLATION_NEAREST || scale <= 2 ? 1 : (int)floor(scale / 2);
  double rest = scale / box;
  int boxed_len = (src_len + box - 1) / box;
  double support = rest > 1 ? rest : 1;
  for (int i = 0; i < out_len; i++) {
    double centre = (i + offset + 0.5) * scale;
    float *w = a->weights + (size_t)i * a->max_taps;
    if (interp == INTERPOLATION_NEAREST) {
      int j = (int)floor(centre);
      a->start[i] = j < 0 ? 0 : j >= src_len ? src_len - 1 : j;
      a->count[i] = 1;
      w[0] = 1;
      continue;
    }
    double c = centre / box;
    int lo = (int)floor(c - support + 0.5);
    int hi = (int)floor(c + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > boxed_len) hi = boxed_len;
    if (hi <= lo) {
      lo = c < 0 ? 0 : boxed_len - 1;
      hi = lo + 1;
    }
    int first = lo * box, last = hi * box < src_len ? hi * box : src_len;
    if (last - first > a->max_taps) last = first + a->max_taps;
    for (int j = first; j < last; j++) w[j - first] = 0;
    double sum = 0;
    for (int j = lo; j < hi; j++) {
      double d = fabs((j + 0.5 - c) / support);
      double v = d < 1 ? 1 - d : 0;
      int b0 = j * box, b1 = b0 + box < src_len ? b0 + box : src_len;
      for (int k = b0; k < b1 && k < last; k++) w[k - first] += (float)(v / (b1 - b0));
      sum += v;
    }
    if (sum <= 0) {
      int j = (int)floor(centre);
      first = j < 0 ? 0 : j >= src_len ? src_len - 1 : j;
      last = first + 1;
      w[0] = 1;
    } else {
      for (int j = first; j < last; j++) w[j - first] = (float)(w[j - first] / sum);
    }
    a->start[i] = first;
    a->count[i] = last - first;
  }
}

/* Taps of the mirrored axis: source index j becomes len - 1 - j, weights in reverse order. */
static void axis_mirror(Axis *a, int out_len, int src_len) {
  for (int i = 0; i < out_len; i++) {
    float *w = a->weights + (size_t)i * a->max_taps;
    int n = a->count[i];
    for (int j = 0; j < n / 2; j++) {
      float t = w[j];
      w[j] = w[n - 1 - j];
      w[n - 1 - j] = t;
    }
    a->start[i] = src_len - (a->start[i] + n);
  }
}

/*
 * One output's float weights (summing to one) in fixed point, rounded to nearest, the largest taking up the
 * rounding's remainder so that they sum to exactly FIXED_ONE (a flat region keeps its level); in pairs, a zero
 * weight after an odd count.
 */
static void fixed_weights(int32_t *pairs, const float *w, int count) {
  int sum = 0, big = 0;
  int q[count + 1];
  for (int j = 0; j < count; j++) {
    q[j] = (int)lrintf(w[j] * FIXED_ONE);
    sum += q[j];
    if (q[j] > q[big]) big = j;
  }
  q[big] += FIXED_ONE - sum;
  q[count] = 0;
  for (int j = 0; j < count; j += 2) pairs[j / 2] = (int32_t)((uint32_t)(uint16_t)q[j] | ((uint32_t)(uint16_t)q[j + 1] << 16));
}

/*
 * The taps of one axis, from the state's plans when this geometry was resampled before (no allocation then), else
 * computed into the least recently used plan, whose buffers are reused. NULL when memory runs out.
 */
static const AxisPlan *plan_axis(State *s, int out_len, int src_len, double scale, double offset, int interp, int mirror,
                                 int paired) {
  AxisPlan *p = NULL, *oldest = &s->plans[0];
  for (int i = 0; i < AXIS_PLANS; i++) {
    AxisPlan *c = &s->plans[i];
    if (c->used && c->out_len == out_len && c->src_len == src_len && c->scale == scale && c->offset == offset &&
        c->interp == interp && c->mirror == mirror && c->paired == paired) {
      p = c;
      break;
    }
    if (c->used < oldest->used) oldest = c;
  }
  if (p) {
    p->used = ++s->plan_clock;
    return p;
  }
  p = oldest;
  p->used = 0;
  Axis *a = &p->axis;
  double support = scale > 1 ? scale : 1;
  a->max_taps = (int)ceil(support) * 2 + 4;
  if (!grow((void **)&a->start, &p->start_cap, sizeof(int) * (size_t)out_len) ||
      !grow((void **)&a->count, &p->count_cap, sizeof(int) * (size_t)out_len) ||
      !grow((void **)&a->weights, &p->weights_cap, sizeof(float) * (size_t)out_len * (size_t)a->max_taps))
    return NULL;
  axis_taps(a, out_len, src_len, scale, offset, interp);
  if (mirror) axis_mirror(a, out_len, src_len);
  p->lo = a->start[0];
  p->hi = a->start[0] + a->count[0];
  int most = 1;
  for (int i = 0; i < out_len; i++) {
    if (a->start[i] < p->lo) p->lo = a->start[i];
    if (a->start[i] + a->count[i] > p->hi) p->hi = a->start[i] + a->count[i];
    if (a->count[i] > most) most = a->count[i];
  }
  p->pairs = (most + 1) / 2;
  p->read_hi = p->hi;
  if (!paired) {
    p->fixed_stride = p->pairs;
    if (!grow((void **)&p->fixed, &p->fixed_cap, sizeof(int32_t) * (size_t)out_len * p->pairs)) return NULL;
    for (int i = 0; i < out_len; i++) fixed_weights(p->fixed + (size_t)i * p->pairs, a->weights + (size_t)i * a->max_taps, a->count[i]);
  }
  if (paired) {
    if (!grow((void **)&p->pair_weights, &p->pair_weights_cap, sizeof(float) * 8 * (size_t)out_len * p->pairs)) return NULL;
    for (int i = 0; i < out_len; i++) {
      const float *w = a->weights + (size_t)i * a->max_taps;
      float *w8 = p->pair_weights + (size_t)i * p->pairs * 8;
      for (int j = 0; j < p->pairs * 2; j++) {
        float wj = j < a->count[i] ? w[j] : 0;
        for (int c = 0; c < 4; c++) w8[(j / 2) * 8 + (j % 2) * 4 + c] = wj;
      }
      if (a->start[i] + p->pairs * 2 > p->read_hi) p->read_hi = a->start[i] + p->pairs * 2;
    }
  }
  p->out_len = out_len;
  p->src_len = src_len;
  p->scale = scale;
  p->offset = offset;
  p->interp = interp;
  p->mirror = mirror;
  p->paired = paired;
  p->used = ++s->plan_clock;
  return p;
}

static inline int round_u8(float v) {
  int q = (int)(v + 0.5f);
  return q < 0 ? 0 : q > 255 ? 255 : q;
}

/* Hot loops are cloned for AVX2 where the compiler and CPU have it (picked at load time). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__)
#define AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define AVX2_CLONE
#endif

/*
 * The two resampling passes of the common case, RGB rows in storage order, each in two versions that give the
 * same floats: portable C, and AVX2 (x86-64, picked at run time) that keeps its sums in registers. The vertical
 * pass sums in fixed point (integers: exact in any order), the horizontal one in floats, every value over its taps
 * in the same order in both versions.
 */

/* The low and high int16 weight of a fixed-point pair. */
static inline int pair_lo(int32_t p) { return (int16_t)(uint16_t)((uint32_t)p & 0xffff); }
static inline int pair_hi(int32_t p) { return (int16_t)(uint16_t)((uint32_t)p >> 16); }

/* Vertical, in fixed point: r[i] = (the sum over the taps k of w[k] * lines[k][i]) / FIXED_ONE, the weights in
 * `pairs` pairs (lines has an entry for the zero weight of an odd count). Integer sums, exact in any order: both
 * versions give the same floats. */
static void vertical_rows_c(float *restrict r, const unsigned char *const *lines, const int32_t *w, int pairs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int32_t a = 0;
    for (int p = 0; p < pairs; p++) a += pair_lo(w[p]) * lines[2 * p][i] + pair_hi(w[p]) * lines[2 * p + 1][i];
    r[i] = (float)a * (1.0f / FIXED_ONE);
  }
}

/* Horizontal, per output pixel: one 4-lane load per tap (R, G, B and the next pixel's R, ignored), even taps in
 * one accumulator and odd ones in another, added at the end. The weights are laid out 8 floats per pair of taps
 * (the even tap's broadcast, then the odd one's), `pairs` pairs for every pixel, zero past its own taps (adding
 * zero leaves the sums as they are). Each pixel's 4 floats go to line[3x..3x+3]; the fourth is overwritten by
 * the next pixel (the line has a float of slack). */
static void horizontal_rgb_c(float *restrict line, const float *restrict row, const int *start, const float *w8,
                             int pairs, int out_w) {
  for (int x = 0; x < out_w; x++) {
    const float *r = row + (size_t)start[x] * 3;
    const float *w = w8 + (size_t)x * pairs * 8;
    v4f a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0}, v0, v1;
    for (int p = 0; p < pairs; p++, r += 6, w += 8) {
      memcpy(&v0, r, sizeof v0);
      memcpy(&v1, r + 3, sizeof v1);
      a0 += v0 * w[0];
      a1 += v1 * w[4];
    }
    a0 += a1;
    memcpy(line + (size_t)x * 3, &a0, sizeof a0);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* The 32-bit sums of 16 values, in the order unpack leaves them (lo: values 0-3 and 8-11, hi: 4-7 and 12-15), as
 * 16 floats in order. */
__attribute__((target("avx2"))) static inline void store_fixed_avx2(float *r, __m256i lo, __m256i hi) {
  __m256 k = _mm256_set1_ps(1.0f / FIXED_ONE);
  _mm256_storeu_ps(r, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_permute2x128_si256(lo, hi, 0x20)), k));
  _mm256_storeu_ps(r + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_permute2x128_si256(lo, hi, 0x31)), k));
}

/* Thirty-two values from `i` on: two taps per multiply-add (vpmaddwd: a byte of each row, interleaved, times the
 * pair of weights), the sums in four registers across all the taps. Inlined with a constant pair count for the
 * common counts, so that the taps' loop unrolls away. */
__attribute__((target("avx2"), always_inline)) static inline void vertical_block_avx2(float *restrict r, const unsigned char *const *lines,
                                                                                     const int32_t *w, int pairs, size_t i) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (int p = 0; p < pairs; p++) {
    const unsigned char *e = lines[2 * p] + i, *o = lines[2 * p + 1] + i;
    __m256i wp = _mm256_set1_epi32(w[p]);
    __m256i e0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)e));
    __m256i o0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)o));
    __m256i e1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(e + 16)));
    __m256i o1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(o + 16)));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(e0, o0), wp));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(e0, o0), wp));
    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi16(e1, o1), wp));
    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi16(e1, o1), wp));
  }
  store_fixed_avx2(r + i, a0, a1);
  store_fixed_avx2(r + i + 16, a2, a3);
}

/* The row in blocks of 32 values, the last one overlapping the one before it (values written twice, the same):
 * no scalar tail. */
__attribute__((target("avx2"), always_inline)) static inline void vertical_pairs_avx2(float *restrict r, const unsigned char *const *lines,
                                                                                     const int32_t *w, int pairs, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) vertical_block_avx2(r, lines, w, pairs, i);
  if (i < n) vertical_block_avx2(r, lines, w, pairs, n - 32);
}

__attribute__((target("avx2"))) static void vertical_rows_avx2(float *restrict r, const unsigned char *const *lines,
                                                               const int32_t *w, int pairs, size_t n) {
  if (n < 32) {
    vertical_rows_c(r, lines, w, pairs, n);
    return;
  }
  switch (pairs) {
    case 1: vertical_pairs_avx2(r, lines, w, 1, n); break;
    case 2: vertical_pairs_avx2(r, lines, w, 2, n); break;
    case 3: vertical_pairs_avx2(r, lines, w, 3, n); break;
    default: vertical_pairs_avx2(r, lines, w, pairs, n); break;
  }
}

/* A pair of taps per 8-lane multiply-add: the even tap in lanes 0-3, the odd one in lanes 4-7. Inlined with a
 * constant pair count for the common counts, so that the taps' loop unrolls away. */
__attribute__((target("avx2"), always_inline)) static inline void horizontal_pairs_avx2(float *restrict line, const float *restrict row,
                                                                                       const int *start, const float *w8,
                                                                                       int pairs, int out_w) {
  for (int x = 0; x < out_w; x++) {
    const float *r = row + (size_t)start[x] * 3;
    const float *w = w8 + (size_t)x * pairs * 8;
    __m256 acc = _mm256_setzero_ps();
    for (int p = 0; p < pairs; p++, r += 6, w += 8) {
      __m256 v = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r)), _mm_loadu_ps(r + 3), 1);
      acc = _mm256_add_ps(acc, _mm256_mul_ps(v, _mm256_loadu_ps(w)));
    }
    _mm_storeu_ps(line + (size_t)x * 3, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
  }
}

__attribute__((target("avx2"))) static void horizontal_rgb_avx2(float *restrict line, const float *restrict row,
                                                                const int *start, const float *w8, int pairs, int out_w) {
  switch (pairs) {
    case 1: horizontal_pairs_avx2(line, row, start, w8, 1, out_w); break;
    case 2: horizontal_pairs_avx2(line, row, start, w8, 2, out_w); break;
    case 3: horizontal_pairs_avx2(line, row, start, w8, 3, out_w); break;
    case 4: horizontal_pairs_avx2(line, row, start, w8, 4, out_w); break;
    case 5: horizontal_pairs_avx2(line, row, start, w8, 5, out_w); break;
    default: horizontal_pairs_avx2(line, row, start, w8, pairs, out_w); break;
  }
}

/* Rounded and clamped to 0..255 as store_u8's C does ((int)(v + 0.5f), truncation, then the clamp), 8 at a time. */
__attribute__((target("avx2"))) static inline __m256i levels_avx2(const float *v) {
  __m256i q = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_loadu_ps(v), _mm256_set1_ps(0.5f)));
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_setzero_si256()), _mm256_set1_epi32(255));
}

__attribute__((target("avx2"))) static void store_u8_avx2(unsigned char *restrict out, const float *restrict v, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i a = _mm256_packs_epi32(levels_avx2(v + i), levels_avx2(v + i + 8));
    __m256i b = _mm256_packs_epi32(levels_avx2(v + i + 16), levels_avx2(v + i + 24));
    /* The packs work per 128-bit lane: one 32-bit shuffle puts the groups of 4 bytes back in order. */
    __m256i q = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)(out + i), q);
  }
  for (; i < n; i++) {
    int q = (int)(v[i] + 0.5f);
    out[i] = (unsigned char)(q < 0 ? 0 : q > 255 ? 255 : q);
  }
}

__attribute__((target("avx2"))) static void store_f32_avx2(float *restrict out, const float *restrict v, const float *restrict scale,
                                                           const float *restrict offset, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 q = _mm256_cvtepi32_ps(levels_avx2(v + i));
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_mul_ps(q, _mm256_loadu_ps(scale + i)), _mm256_loadu_ps(offset + i)));
  }
  for (; i < n; i++) {
    int q = (int)(v[i] + 0.5f);
    out[i] = (float)(q < 0 ? 0 : q > 255 ? 255 : q) * scale[i] + offset[i];
  }
}
#endif

/* Which versions run: AVX2 where the CPU has it, unless turned off (useAvx2(false), for tests; process-wide). */
static int use_avx2 = -1;

static int avx2_active(void) {
#ifdef HAVE_AVX2_PATH
  if (use_avx2 < 0) use_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
  return use_avx2;
#else
  return 0;
#endif
}

static void vertical_rows(float *restrict r, const unsigned char *const *lines, const int32_t *w, int pairs, size_t n) {
#ifdef HAVE_AVX2_PATH
  if (avx2_active()) {
    vertical_rows_avx2(r, lines, w, pairs, n);
    return;
  }
#endif
  vertical_rows_c(r, lines, w, pairs, n);
}

static void horizontal_rgb(float *restrict line, const float *restrict row, const int *start, const float *w8, int pairs,
                           int out_w) {
#ifdef HAVE_AVX2_PATH
  if (avx2_active()) {
    horizontal_rgb_avx2(line, row, start, w8, pairs, out_w);
    return;
  }
#endif
  horizontal_rgb_c(line, row, start, w8, pairs, out_w);
}

/* One row of RGB floats (rounded, clamped to 0..255) into 8-bit output; vectorises. */
AVX2_CLONE
static void store_u8_c(unsigned char *restrict out, const float *restrict v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int q = (int)(v[i] + 0.5f);
    out[i] = (unsigned char)(q < 0 ? 0 : q > 255 ? 255 : q);
  }
}

/* The same levels as float32 output, `level * scale[i] + offset[i]` (scale and offset laid out per value). */
AVX2_CLONE
static void store_f32_c(float *restrict out, const float *restrict v, const float *restrict scale, const float *restrict offset, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int q = (int)(v[i] + 0.5f);
    out[i] = (float)(q < 0 ? 0 : q > 255 ? 255 : q) * scale[i] + offset[i];
  }
}

static void store_u8(unsigned char *restrict out, const float *restrict v, size_t n) {
#ifdef HAVE_AVX2_PATH
  if (avx2_active()) {
    store_u8_avx2(out, v, n);
    return;
  }
#endif
  store_u8_c(out, v, n);
}

static void store_f32(float *restrict out, const float *restrict v, const float *restrict scale, const float *restrict offset,
                      size_t n) {
#ifdef HAVE_AVX2_PATH
  if (avx2_active()) {
    store_f32_avx2(out, v, scale, offset, n);
    return;
  }
#endif
  store_f32_c(out, v, scale, offset, n);
}

static napi_value status_value(napi_env env, int status) {
  napi_value v;
  napi_create_int32(env, status, &v);
  return v;
}

/* One call's arguments, checked (abi.h's DECODE_PARAM_* block and the arrays around it). */
typedef struct {
  const unsigned char *jpeg;
  size_t jpeg_len;
  unsigned char *out8; /* exactly one of out8 and out32 is set */
  float *out32;
  int out_w, out_h, out_c, orientation, crop, interp;
  const float *norm_scale, *norm_offset; /* float32 output only; NULL: plain levels */
  int has_region;
  int32_t region[4]; /* left, top, width, height in pixels of the oriented full-size image */
} Request;

/* What the header and the request make of one file, before any pixel is decoded. */
typedef struct {
  int w, h, src_c;
  int denom;      /* DCT scale 1/denom */
  int sw, sh;     /* the decoded size (libjpeg rounds up) */
  size_t stride;  /* bytes per decoded row */
  int vw, vh;     /* the oriented image the resampling reads (whole pixels only) */
  ptrdiff_t origin, du, dv; /* oriented pixel (u, v) is at origin + u*du + v*dv in the decoded one */
  int mirror_x;   /* rows read forwards, horizontal taps mirrored */
  double scale_x, scale_y, off_x, off_y;
} Plan;

/* decode(jpeg, out, params, scale, offset): the arguments into a Request, or DECODE_STATUS_ERR_ARGS. */
static int parse_request(napi_env env, napi_callback_info info, Request *rq) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return DECODE_STATUS_ERR_ARGS;
  napi_typedarray_type in_type, out_type, p_type;
  size_t in_len, out_len, p_len;
  void *in_data, *out_data, *p_data;
  if (napi_get_typedarray_info(env, argv[0], &in_type, &in_len, &in_data, NULL, NULL) != napi_ok ||
      in_type != napi_uint8_array)
    return DECODE_STATUS_ERR_ARGS;
  if (napi_get_typedarray_info(env, argv[1], &out_type, &out_len, &out_data, NULL, NULL) != napi_ok ||
      (out_type != napi_uint8_array && out_type != napi_float32_array))
    return DECODE_STATUS_ERR_ARGS;
  if (napi_get_typedarray_info(env, argv[2], &p_type, &p_len, &p_data, NULL, NULL) != napi_ok ||
      p_type != napi_int32_array || p_len < DECODE_PARAM_COUNT)
    return DECODE_STATUS_ERR_ARGS;
  const int32_t *p = p_data;
  rq->jpeg = in_data;
  rq->jpeg_len = in_len;
  rq->out8 = out_type == napi_uint8_array ? out_data : NULL;
  rq->out32 = out_type == napi_float32_array ? out_data : NULL;
  rq->out_w = p[DECODE_PARAM_WIDTH];
  rq->out_h = p[DECODE_PARAM_HEIGHT];
  rq->out_c = p[DECODE_PARAM_CHANNELS];
  rq->orientation = p[DECODE_PARAM_ORIENTATION];
  rq->crop = p[DECODE_PARAM_CROP];
  rq->interp = p[DECODE_PARAM_INTERPOLATION];
  if (rq->out_w < 1 || rq->out_h < 1 || (rq->out_c != 1 && rq->out_c != 3 && rq->out_c != 4) ||
      (size_t)rq->out_w * rq->out_h * rq->out_c != out_len)
    return DECODE_STATUS_ERR_ARGS;
  if (rq->orientation < 1 || rq->orientation > 8) rq->orientation = 1;
  rq->norm_scale = rq->norm_offset = NULL;
  if (argc >= 5 && rq->out32) {
    napi_valuetype t;
    napi_typeof(env, argv[3], &t);
    if (t == napi_object) {
      size_t n1, n2;
      napi_typedarray_type t1, t2;
      void *d1, *d2;
      if (napi_get_typedarray_info(env, argv[3], &t1, &n1, &d1, NULL, NULL) != napi_ok ||
          napi_get_typedarray_info(env, argv[4], &t2, &n2, &d2, NULL, NULL) != napi_ok || t1 != napi_float32_array ||
          t2 != napi_float32_array || n1 < (size_t)rq->out_c || n2 < (size_t)rq->out_c)
        return DECODE_STATUS_ERR_ARGS;
      rq->norm_scale = d1;
      rq->norm_offset = d2;
    }
  }
  rq->region[0] = p[DECODE_PARAM_REGION_LEFT];
  rq->region[1] = p[DECODE_PARAM_REGION_TOP];
  rq->region[2] = p[DECODE_PARAM_REGION_WIDTH];
  rq->region[3] = p[DECODE_PARAM_REGION_HEIGHT];
  rq->has_region = rq->region[0] >= 0 && rq->region[1] >= 0 && rq->region[2] > 0 && rq->region[3] > 0;
  return DECODE_STATUS_OK;
}

/* The header, the DCT scale, the orientation as strides and the resampling's scale and offset; a status for a
 * file the fast path leaves to sharp. Nothing is decoded yet. */
static int plan_decode(State *s, const Request *rq, Plan *pl) {
  int subsamp, colorspace;
  if (s->api->DecompressHeader3(s->tj, rq->jpeg, (unsigned long)rq->jpeg_len, &pl->w, &pl->h, &subsamp, &colorspace) != 0)
    return DECODE_STATUS_ERR_HEADER;
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) return DECODE_STATUS_ERR_COLORSPACE;
  int w = pl->w, h = pl->h, out_w = rq->out_w, out_h = rq->out_h;
  const int32_t *region = rq->region;
  pl->src_c = colorspace == TJCS_GRAY ? 1 : 3;
  int transposed = rq->orientation >= 5;
  int ow = transposed ? h : w, oh = transposed ? w : h; /* stored size, oriented */

  /* Enlarging: libvips upsamples with its own interpolator, which this pass does not reproduce; sharp
   * keeps those (rare, small) files. */
  if (rq->has_region && (region[0] + region[2] > ow || region[1] + region[3] > oh)) return DECODE_STATUS_ERR_ARGS;
  double shrink_x = (double)(rq->has_region ? region[2] : ow) / out_w;
  double shrink_y = (double)(rq->has_region ? region[3] : oh) / out_h;
  /* A random crop is resized to the output whatever its size: there it is augmentation, not a match for sharp. */
  if (!rq->has_region && (rq->crop ? fmax(shrink_x, shrink_y) < 1 : fmin(shrink_x, shrink_y) < 1))
    return DECODE_STATUS_ERR_ENLARGE;
  /* DCT-domain scaling (libjpeg's scale_denom) as sharp picks its shrink-on-load (fastShrinkOnLoad, its
   * default): 1/8, 1/4 or 1/2 when the axis that shrinks least shrinks by at least that factor, one step less
   * when the shrink's integer part is the factor itself (libjpeg's rounding). */
  double shrink = fmin(shrink_x, shrink_y);
  int denom = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (denom > 1 && (int)shrink == denom) denom /= 2;
  tjscalingfactor sf = {1, denom};
  pl->denom = denom;
  pl->sw = TJSCALED(w, sf);
  pl->sh = TJSCALED(h, sf);
  pl->stride = (size_t)pl->sw * pl->src_c;
  /* libjpeg rounds the scaled size up; libvips keeps whole pixels only, floor(size / denom), dropping a last row
   * or column made from part of a block. The resampling uses that image, so that its scale matches sharp's. */
  int lw = w / denom, lh = h / denom;

  /* The oriented image as strides over the stored one: pixel (u, v) is at origin + u*du + v*dv. */
  ptrdiff_t C = pl->src_c, S = (ptrdiff_t)pl->stride, X = (ptrdiff_t)(lw - 1) * C, Y = (ptrdiff_t)(lh - 1) * S;
  /* Orientations 2 and 3 mirror the rows: read them forwards and mirror the horizontal taps instead, so
   * that the vertical pass below runs over contiguous bytes (and vectorises). */
  pl->mirror_x = rq->orientation == 2 || rq->orientation == 3;
  switch (rq->orientation) {
    case 2: pl->origin = 0; pl->du = C; pl->dv = S; break;
    case 3: pl->origin = Y; pl->du = C; pl->dv = -S; break;
    case 4: pl->origin = Y; pl->du = C; pl->dv = -S; break;
    case 5: pl->origin = 0; pl->du = S; pl->dv = C; break;
    case 6: pl->origin = Y; pl->du = -S; pl->dv = C; break;
    case 7: pl->origin = X + Y; pl->du = -S; pl->dv = -C; break;
    case 8: pl->origin = X; pl->du = S; pl->dv = -C; break;
    default: pl->origin = 0; pl->du = C; pl->dv = S; break;
  }
  int vw = transposed ? lh : lw, vh = transposed ? lw : lh;
  pl->vw = vw;
  pl->vh = vh;

  pl->off_x = pl->off_y = 0;
  if (rq->has_region) {
    /* The window in the DCT-scaled image (a full-size pixel x is at x / denom); offsets in output pixels, as
     * the taps take them. */
    double kx = 1.0 / denom, ky = 1.0 / denom;
    pl->scale_x = region[2] * kx / out_w;
    pl->scale_y = region[3] * ky / out_h;
    pl->off_x = region[0] * kx / pl->scale_x;
    pl->off_y = region[1] * ky / pl->scale_y;
  } else if (rq->crop) {
    /* sharp's fit 'cover' + centre gravity: resize to cover the target, then cut the middle out. */
    double sc = fmin((double)vw / out_w, (double)vh / out_h);
    int rw = (int)lround(vw / sc), rh = (int)lround(vh / sc);
    if (rw < out_w) rw = out_w;
    if (rh < out_h) rh = out_h;
    pl->off_x = (rw - out_w + 1) / 2;
    pl->off_y = (rh - out_h + 1) / 2;
    /* Per axis, the scale of the rounded size, as libvips' resize computes it from the size it aims for. */
    pl->scale_x = (double)vw / rw;
    pl->scale_y = (double)vh / rh;
  } else {
    pl->scale_x = (double)vw / out_w;
    pl->scale_y = (double)vh / out_h;
  }

  /* Past a residual shrink of 4, libvips box-shrinks before its reduce in a way this filter does not match
   * closely enough; sharp keeps those (strongly anisotropic) resizes. */
  if (rq->interp != INTERPOLATION_NEAREST && (pl->scale_x >= 4 || pl->scale_y >= 4)) return DECODE_STATUS_ERR_RESIDUAL;
  return DECODE_STATUS_OK;
}

/* The planned DCT-scaled decode into the state's pixel buffer. */
static int decode_pixels(State *s, const Request *rq, const Plan *pl) {
  if (!grow((void **)&s->pixels, &s->pixels_cap, pl->stride * pl->sh)) return DECODE_STATUS_ERR_MEMORY;
  if (s->api->Decompress2(s->tj, rq->jpeg, (unsigned long)rq->jpeg_len, s->pixels, pl->sw, 0, pl->sh,
                    pl->src_c == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0)
    return DECODE_STATUS_ERR_DECODE;
  return DECODE_STATUS_OK;
}

/* The decoded pixels resampled, oriented and converted into the output. */
static int resample(State *s, const Request *rq, const Plan *pl) {
  int out_w = rq->out_w, out_h = rq->out_h, out_c = rq->out_c, src_c = pl->src_c, vw = pl->vw;
  ptrdiff_t C = src_c, origin = pl->origin, du = pl->du, dv = pl->dv;
  const float *norm_scale = rq->norm_scale, *norm_offset = rq->norm_offset;
  /* The common case, RGB in and out: the horizontal pass writes a row of floats, then one vectorised loop
   * rounds (and scales) it into the output. */
  int rgb_fast = src_c == 3 && out_c == 3;
  const AxisPlan *px_plan = plan_axis(s, out_w, vw, pl->scale_x, pl->off_x, rq->interp, pl->mirror_x, rgb_fast);
  const AxisPlan *py_plan = px_plan ? plan_axis(s, out_h, pl->vh, pl->scale_y, pl->off_y, rq->interp, 0, 0) : NULL;
  /* The second lookup may not evict the first: the plans are taken least recently used, and the first was just used. */
  if (!px_plan || !py_plan) return DECODE_STATUS_ERR_MEMORY;
  const Axis *ax = &px_plan->axis, *ay = &py_plan->axis;
  int u_lo = px_plan->lo, u_hi = px_plan->hi, read_hi = px_plan->read_hi;
  if (!grow((void **)&s->scratch, &s->scratch_cap, sizeof(float) * ((size_t)(read_hi > vw ? read_hi : vw) * src_c + 4)))
    return DECODE_STATUS_ERR_MEMORY;
  size_t line_n = (size_t)out_w * 3;
  if (rgb_fast && !grow((void **)&s->line, &s->line_cap, sizeof(float) * (line_n * 3 + 1))) return DECODE_STATUS_ERR_MEMORY;
  if (!grow((void **)&s->taps, &s->taps_cap, sizeof(*s->taps) * ((size_t)ay->max_taps + 1))) return DECODE_STATUS_ERR_MEMORY;
  float *line = s->line, *line_scale = line + line_n + 1, *line_offset = line_scale + line_n;
  if (rgb_fast) {
    for (size_t i = 0; i < line_n; i++) {
      line_scale[i] = norm_scale ? norm_scale[i % 3] : 1;
      line_offset[i] = norm_scale ? norm_offset[i % 3] : 0;
    }
  }
  const unsigned char *px = s->pixels;
  float *row = s->scratch;
  /* Past the last pixel the taps use, the pairs read up to read_hi pixels with zero weights, and one float more
   * (the ignored fourth lane of a pixel's load). The vertical pass does not write there: keep them finite. */
  memset(row + (size_t)u_hi * src_c, 0, sizeof(float) * ((size_t)(read_hi - u_hi) * src_c + 4));
  unsigned char *out8 = rq->out8;
  float *out32 = rq->out32;
  int to_gray = out_c == 1 && src_c == 3;
  for (int y = 0; y < out_h; y++) {
    /* Vertical pass: one row of the oriented image, weighted over the output row's taps. */
    const float *wy = ay->weights + (size_t)y * ay->max_taps;
    if (du == C) {
      /* Rows in storage order: contiguous runs of bytes, in fixed point (an odd count's zero weight reads its last row again). */
      int count = ay->count[y];
      for (int k = 0; k < count; k++) s->taps[k] = px + origin + (ptrdiff_t)(ay->start[y] + k) * dv + (ptrdiff_t)u_lo * C;
      s->taps[count] = s->taps[count - 1];
      vertical_rows(row + (size_t)u_lo * src_c, s->taps, py_plan->fixed + (size_t)y * py_plan->fixed_stride, (count + 1) / 2,
                    (size_t)(u_hi - u_lo) * src_c);
    } else {
      memset(row + (size_t)u_lo * src_c, 0, sizeof(float) * (size_t)(u_hi - u_lo) * src_c);
      for (int k = 0; k < ay->count[y]; k++) {
        const unsigned char *line = px + origin + (ptrdiff_t)(ay->start[y] + k) * dv;
        float wk = wy[k];
        if (src_c == 3) {
          for (int u = u_lo; u < u_hi; u++) {
            const unsigned char *p = line + u * du;
            float *r = row + (size_t)u * 3;
            r[0] += wk * p[0];
            r[1] += wk * p[1];
            r[2] += wk * p[2];
          }
        } else {
          for (int u = u_lo; u < u_hi; u++) row[u] += wk * line[u * du];
        }
      }
    }
    size_t o = (size_t)y * out_w * out_c;
    if (rgb_fast) {
      horizontal_rgb(line, row, ax->start, px_plan->pair_weights, px_plan->pairs, out_w);
      if (out8) store_u8(out8 + o, line, line_n);
      else store_f32(out32 + o, line, line_scale, line_offset, line_n);
      continue;
    }
    /* Horizontal pass, colour and dtype conversion, straight into the output. */
    for (int x = 0; x < out_w; x++, o += out_c) {
      const float *wx = ax->weights + (size_t)x * ax->max_taps;
      const float *r = row + (size_t)ax->start[x] * src_c;
      int q[4];
      if (src_c == 3) {
        /* One 4-lane load per tap (R, G, B and the next pixel's R, ignored); the row has a float of slack. */
        v4f acc = {0, 0, 0, 0};
        for (int j = 0; j < ax->count[x]; j++, r += 3) {
          v4f v;
          memcpy(&v, r, sizeof v);
          acc += v * wx[j];
        }
        q[0] = round_u8(acc[0]);
        q[1] = round_u8(acc[1]);
        q[2] = round_u8(acc[2]);
        if (to_gray) {
          /* Rec. 601 luma of the sRGB values in PIL's integer form (convert('L')), as the sharp path gives. */
          q[0] = (q[0] * 19595 + q[1] * 38470 + q[2] * 7471 + 0x8000) >> 16;
        }
      } else {
        float a0 = 0;
        for (int j = 0; j < ax->count[x]; j++) a0 += wx[j] * r[j];
        q[0] = q[1] = q[2] = round_u8(a0);
      }
      q[3] = 255;
      if (out8) {
        for (int c = 0; c < out_c; c++) out8[o + c] = (unsigned char)q[c];
      } else if (norm_scale) {
        for (int c = 0; c < out_c; c++) out32[o + c] = q[c] * norm_scale[c] + norm_offset[c];
      } else {
        for (int c = 0; c < out_c; c++) out32[o + c] = (float)q[c];
      }
    }
  }
  return DECODE_STATUS_OK;
}

/* This thread's decompressor, made on its first decode from the library opened for the process. */
static int open_decompressor(State *s) {
  const TurboJpeg *api = turbojpeg();
  if (!api) return DECODE_STATUS_ERR_NO_LIBRARY;
  s->tj = api->InitDecompress();
  if (!s->tj) return DECODE_STATUS_ERR_MEMORY;
  s->api = api;
  return DECODE_STATUS_OK;
}

/* decode(jpeg, out, params, scale, offset) -> status: parse, plan, decode, resample; one cleanup path. */
static napi_value decode(napi_env env, napi_callback_info info) {
  State *s;
  if (napi_get_instance_data(env, (void **)&s) != napi_ok || !s) return status_value(env, DECODE_STATUS_ERR_ARGS);
  Request rq;
  Plan pl;
  int status = parse_request(env, info, &rq);
  if (status == DECODE_STATUS_OK && !s->tj) status = open_decompressor(s);
  if (status == DECODE_STATUS_OK) status = plan_decode(s, &rq, &pl);
  if (status == DECODE_STATUS_OK) status = decode_pixels(s, &rq, &pl);
  if (status == DECODE_STATUS_OK) status = resample(s, &rq, &pl);
  release_if_large(s);
  return status_value(env, status);
}

/* Augmentation's pixel pass (augment_pass.c). */
napi_value imgstream_shifted_rgb(napi_env env, napi_callback_info info);
napi_value imgstream_mean_luminance(napi_env env, napi_callback_info info);
/* The consumer's 8-bit slot into a float32 batch (levels.c). */
napi_value imgstream_expand_levels(napi_env env, napi_callback_info info);
/* One-task file read (read_file.c). */
napi_value imgstream_read_into(napi_env env, napi_callback_info info);
napi_value imgstream_trim_memory(napi_env env, napi_callback_info info);
/* The TurboJPEG library, opened at run time (turbojpeg_load.c). */
napi_value imgstream_open_turbojpeg(napi_env env, napi_callback_info info);
napi_value imgstream_turbojpeg_path(napi_env env, napi_callback_info info);

/* useAvx2([enabled]) -> whether the AVX2 resampling passes run; `enabled` turns them off, or back on where the
 * CPU has AVX2. Both versions give the same values; this lets the tests hold them to it. */
static napi_value use_avx2_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int supported = 0;
#ifdef HAVE_AVX2_PATH
  supported = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
  if (argc >= 1) {
    bool enabled = false;
    if (napi_get_value_bool(env, argv[0], &enabled) == napi_ok) use_avx2 = enabled && supported;
  }
  napi_get_boolean(env, avx2_active() != 0, &v);
  return v;
}

/* abi() -> { NAME: value } of every abi.h constant, for the test that holds them to abi.ts. */
static napi_value abi_js(napi_env env, napi_callback_info info) {
  (void)info;
  static const struct {
    const char *name;
    int value;
  } entries[] = {IMGSTREAM_ABI_ENTRIES};
  napi_value obj, v;
  napi_create_object(env, &obj);
  for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
    napi_create_int32(env, entries[i].value, &v);
    napi_set_named_property(env, obj, entries[i].name, v);
  }
  return obj;
}

NAPI_MODULE_INIT() {
  State *s = calloc(1, sizeof(State));
  if (!s) return NULL;
  for (int i = 0; i < 256; i++) s->to_linear[i] = (float)srgb_to_linear(i / 255.0);
  for (int i = 0; i <= ENCODE_STEPS; i++) {
    double v = linear_to_srgb((double)i / ENCODE_STEPS) * 255 + 0.5;
    s->from_linear[i] = (unsigned char)(v > 255 ? 255 : v);
  }
  napi_set_instance_data(env, s, state_free, NULL);
  napi_property_descriptor methods[] = {
      {"decode", NULL, decode, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openTurbojpeg", NULL, imgstream_open_turbojpeg, NULL, NULL, NULL, napi_enumerable, NULL},
      {"turbojpegPath", NULL, imgstream_turbojpeg_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shiftedRgb", NULL, imgstream_shifted_rgb, NULL, NULL, NULL, napi_enumerable, NULL},
      {"meanLuminance", NULL, imgstream_mean_luminance, NULL, NULL, NULL, napi_enumerable, NULL},
      {"expandLevels", NULL, imgstream_expand_levels, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readInto", NULL, imgstream_read_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimMemory", NULL, imgstream_trim_memory, NULL, NULL, NULL, napi_enumerable, NULL},
      {"useAvx2", NULL, use_avx2_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"abi", NULL, abi_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}
