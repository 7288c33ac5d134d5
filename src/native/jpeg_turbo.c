/*
 * imgstream's native JPEG fast path: one call decodes a JPEG with libjpeg-turbo (TurboJPEG API) at the
 * DCT scale the target allows (1/2, 1/4, 1/8), then resamples, orients, crops, converts the colour and
 * the dtype in one pass that writes straight into the caller's typed array (a ring slot, usually a view
 * on a SharedArrayBuffer). The only intermediate buffers are the decoded (already shrunk) image and one
 * row of the vertically resampled image (fixed point); both are kept per thread and reused.
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
#define PAIRED_PAD 8
#define PAD_OUT(n) (((n) + PAIRED_PAD - 1) & ~(PAIRED_PAD - 1))
/* plan_axis's `paired`: the RGB layout (pair_weights in quads of outputs), or the one-channel layout (MONO_PAIRS
 * pairs per output, zero past its own, from pair_weights + x * MONO_PAIRS) of the planar path's passes. */
#define PAIRED_RGB 1
#define PAIRED_MONO 2
#define MONO_PAIRS 4
#define MONO_GROUP 16
#define PAD_GROUP(n) (((n) + MONO_GROUP - 1) & ~(MONO_GROUP - 1))
typedef struct {
  int out_len, src_len, interp, mirror, fancy, paired;
  double scale, offset;
  unsigned used; /* the state's clock when last used; 0: empty */
  Axis axis;
  int lo, hi;    /* the source range the taps cover */
  int pairs;     /* paired: taps per output pixel, in pairs */
  int read_hi;   /* paired: one past the last source pixel the pairs read */
  /* Paired: the first source pixel and the weights of each output pixel, the outputs padded to a multiple of
   * PAIRED_PAD with copies of the last (the passes write 4 or 8 at a time); the weights of four neighbouring
   * outputs x .. x + 3 (x a multiple of 4) as 16 int32 per pair of taps, each output's pair broadcast over 4:
   * output x's pair j at pair_weights + (x / 4) * pairs * 16 + j * 16 + (x % 4) * 4. */
  int *pair_start;
  int32_t *pair_weights;
  /* Each output's weights in fixed point (FIXED_ONE = 1), two int16 per int32 (the even tap in the low half),
   * `pairs` of them (zero past its own taps) from fixed + i * pairs, summing to FIXED_ONE. */
  int32_t *fixed;
  /* PAIRED_MONO, for the AVX-512 pass: groups of MONO_GROUP outputs whose taps all lie within 64 values of the
   * group's first source value (`group_ok` when every group's do): per group g and pair j, the 32 indices (two per
   * output) of its pairs in that window (group_index + (g * pairs + j) * 32) and the outputs' weights of pair j
   * (group_weights + (g * pairs + j) * MONO_GROUP). */
  int group_ok;
  uint16_t *group_index;
  int32_t *group_weights;
  size_t start_cap, count_cap, weights_cap, pair_start_cap, pair_weights_cap, fixed_cap, group_index_cap, group_weights_cap;
} AxisPlan;

/*
 * The resampling's fixed point. Weights: 14 fractional bits keep a weight of 1 within int16. The vertical pass
 * sums bytes times weights (at most 255 * FIXED_ONE, the weights summing to one) and rounds them to ROW_BITS
 * fractional bits, int16 (at most 255 << ROW_BITS); the horizontal pass sums those times weights (within int32)
 * and rounds them to whole levels. Integer sums are exact in any order.
 */
#define FIXED_BITS 14
#define FIXED_ONE (1 << FIXED_BITS)
#define ROW_BITS 7
#define ROW_ROUND(a) (((a) + (1 << (FIXED_BITS - ROW_BITS - 1))) >> (FIXED_BITS - ROW_BITS))
#define LEVEL_SHIFT (FIXED_BITS + ROW_BITS)
#define LEVEL_ROUND (1 << (LEVEL_SHIFT - 1))

typedef struct {
  const TurboJpeg *api; /* set with `tj` on the first decode, once a library is open */
  tjhandle tj;
  unsigned char *pixels;
  size_t pixels_cap;
  int16_t *scratch; /* one row of the oriented image, vertically resampled (ROW_BITS fixed point) */
  size_t scratch_cap;
  int32_t *sums; /* the transposed orientations' vertical sums, before rounding */
  size_t sums_cap;
  unsigned char *line; /* one output row of RGB levels (the plan's padding as slack), then the float output's per-value scale and offset */
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
  free(s->sums);
  free(s->line);
  for (int i = 0; i < AXIS_PLANS; i++) {
    free(s->plans[i].axis.start);
    free(s->plans[i].axis.count);
    free(s->plans[i].axis.weights);
    free(s->plans[i].pair_start);
    free(s->plans[i].pair_weights);
    free(s->plans[i].fixed);
    free(s->plans[i].group_index);
    free(s->plans[i].group_weights);
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
 * rounding's remainder so that they sum to exactly FIXED_ONE (a flat region keeps its level); `npairs` pairs,
 * zero past its `count` taps.
 */
static void fixed_weights(int32_t *pairs, int npairs, const float *w, int count) {
  int sum = 0, big = 0;
  int q[2 * npairs + 2];
  for (int j = 0; j < count; j++) {
    q[j] = (int)lrintf(w[j] * FIXED_ONE);
    sum += q[j];
    if (q[j] > q[big]) big = j;
  }
  q[big] += FIXED_ONE - sum;
  for (int j = count; j < 2 * npairs; j++) q[j] = 0;
  for (int j = 0; j < npairs; j++) pairs[j] = (int32_t)((uint32_t)(uint16_t)q[2 * j] | ((uint32_t)(uint16_t)q[2 * j + 1] << 16));
}

/*
 * A subsampled chroma axis (factor 2), as libjpeg's fancy upsampling makes it full size before the RGB path
 * resamples it: full-size pixel p is 3/4 of chroma sample p / 2 and 1/4 of its neighbour on p's side (p - 1's
 * for even p, p + 1's for odd), the edge sample standing in for the missing neighbour. The taps over `src_len`
 * full-size pixels become taps over the ceil(src_len / 2) chroma samples with the weights they add up to there.
 */
static void fold_fancy_upsampling(Axis *a, int out_len, int src_len) {
  int chroma = (src_len + 1) / 2;
  float folded[a->max_taps];
  for (int i = 0; i < out_len; i++) {
    float *w = a->weights + (size_t)i * a->max_taps;
    int first = a->start[i], n = a->count[i];
    int lo = (first >> 1) - 1, hi = ((first + n - 1) >> 1) + 1;
    if (lo < 0) lo = 0;
    if (hi > chroma - 1) hi = chroma - 1;
    for (int j = 0; j <= hi - lo; j++) folded[j] = 0;
    for (int k = 0; k < n; k++) {
      int p = first + k, j = p >> 1, side = p & 1 ? j + 1 : j - 1;
      if (side < 0) side = 0;
      if (side > chroma - 1) side = chroma - 1;
      folded[j - lo] += 0.75f * w[k];
      folded[side - lo] += 0.25f * w[k];
    }
    a->start[i] = lo;
    a->count[i] = hi - lo + 1;
    for (int j = 0; j < a->max_taps; j++) w[j] = j <= hi - lo ? folded[j] : 0;
  }
}

/*
 * The taps of one axis, from the state's plans when this geometry was resampled before (no allocation then), else
 * computed into the least recently used plan, whose buffers are reused. NULL when memory runs out.
 */
static const AxisPlan *plan_axis(State *s, int out_len, int src_len, double scale, double offset, int interp, int mirror,
                                 int fancy, int paired) {
  AxisPlan *p = NULL, *oldest = &s->plans[0];
  for (int i = 0; i < AXIS_PLANS; i++) {
    AxisPlan *c = &s->plans[i];
    if (c->used && c->out_len == out_len && c->src_len == src_len && c->scale == scale && c->offset == offset &&
        c->interp == interp && c->mirror == mirror && c->fancy == fancy && c->paired == paired) {
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
  /* Mirrored first: the fold works on the stored image's grid, where the chroma samples are. */
  if (mirror) axis_mirror(a, out_len, src_len);
  if (fancy) fold_fancy_upsampling(a, out_len, src_len);
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
  if (!grow((void **)&p->fixed, &p->fixed_cap, sizeof(int32_t) * (size_t)out_len * p->pairs)) return NULL;
  for (int i = 0; i < out_len; i++) fixed_weights(p->fixed + (size_t)i * p->pairs, p->pairs, a->weights + (size_t)i * a->max_taps, a->count[i]);
  if (paired == PAIRED_MONO) {
    /* One channel: each output's taps are contiguous values, read 8 at a time; its pairs padded to MONO_PAIRS. */
    int padded = PAD_OUT(out_len);
    if (!grow((void **)&p->pair_start, &p->pair_start_cap, sizeof(int) * (size_t)padded) ||
        !grow((void **)&p->pair_weights, &p->pair_weights_cap, sizeof(int32_t) * MONO_PAIRS * (size_t)padded))
      return NULL;
    for (int x = 0; x < padded; x++) {
      int i = x < out_len ? x : out_len - 1;
      p->pair_start[x] = a->start[i];
      for (int j = 0; j < MONO_PAIRS; j++) p->pair_weights[(size_t)x * MONO_PAIRS + j] = j < p->pairs ? p->fixed[(size_t)i * p->pairs + j] : 0;
      int reach = a->start[i] + (p->pairs > MONO_PAIRS ? 2 * p->pairs : 2 * MONO_PAIRS);
      if (reach > p->read_hi) p->read_hi = reach;
    }
    int groups = PAD_GROUP(out_len) / MONO_GROUP;
    p->group_ok = 0;
    if (!grow((void **)&p->group_index, &p->group_index_cap, sizeof(uint16_t) * 32 * (size_t)groups * p->pairs) ||
        !grow((void **)&p->group_weights, &p->group_weights_cap, sizeof(int32_t) * MONO_GROUP * (size_t)groups * p->pairs))
      return NULL;
    int fits = 1;
    for (int g = 0; g < groups && fits; g++) {
      int base = a->start[g * MONO_GROUP < out_len ? g * MONO_GROUP : out_len - 1];
      for (int k = 0; k < MONO_GROUP; k++) {
        int i = g * MONO_GROUP + k < out_len ? g * MONO_GROUP + k : out_len - 1;
        int at = a->start[i] - base;
        if (at < 0 || at + 2 * p->pairs > 64) fits = 0;
        for (int j = 0; j < p->pairs && fits; j++) {
          p->group_index[((size_t)g * p->pairs + j) * 32 + 2 * k] = (uint16_t)(at + 2 * j);
          p->group_index[((size_t)g * p->pairs + j) * 32 + 2 * k + 1] = (uint16_t)(at + 2 * j + 1);
          p->group_weights[((size_t)g * p->pairs + j) * MONO_GROUP + k] = p->fixed[(size_t)i * p->pairs + j];
        }
      }
      if (base + 64 > p->read_hi) p->read_hi = base + 64;
    }
    p->group_ok = fits;
  } else if (paired) {
    int padded = PAD_OUT(out_len);
    if (!grow((void **)&p->pair_start, &p->pair_start_cap, sizeof(int) * (size_t)padded) ||
        !grow((void **)&p->pair_weights, &p->pair_weights_cap, sizeof(int32_t) * 4 * (size_t)padded * p->pairs))
      return NULL;
    for (int x = 0; x < padded; x++) {
      int i = x < out_len ? x : out_len - 1;
      p->pair_start[x] = a->start[i];
      int32_t *wq = p->pair_weights + (size_t)(x / 4) * p->pairs * 16 + (x % 4) * 4;
      for (int j = 0; j < p->pairs; j++)
        for (int c = 0; c < 4; c++) wq[j * 16 + c] = p->fixed[(size_t)i * p->pairs + j];
      if (a->start[i] + p->pairs * 2 > p->read_hi) p->read_hi = a->start[i] + p->pairs * 2;
    }
  }
  p->out_len = out_len;
  p->src_len = src_len;
  p->scale = scale;
  p->offset = offset;
  p->interp = interp;
  p->mirror = mirror;
  p->fancy = fancy;
  p->paired = paired;
  p->used = ++s->plan_clock;
  return p;
}

/* Hot loops are cloned for AVX2 where the compiler and CPU have it (picked at load time). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__)
#define AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define AVX2_CLONE
#endif

/*
 * The two resampling passes of the common case, RGB rows in storage order, each in versions that give the same
 * values: portable C, and on x86-64 (picked at run time) AVX2 and AVX-512 that keep their sums in registers.
 * All sum in fixed point (see FIXED_BITS): integers, exact in any order.
 */

/* The low and high int16 weight of a fixed-point pair. */
static inline int pair_lo(int32_t p) { return (int16_t)(uint16_t)((uint32_t)p & 0xffff); }
static inline int pair_hi(int32_t p) { return (int16_t)(uint16_t)((uint32_t)p >> 16); }

static inline unsigned char clamp_level(int32_t a) {
  int32_t q = (a + LEVEL_ROUND) >> LEVEL_SHIFT;
  return (unsigned char)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/* Vertical: r[i] = ROW_ROUND(the sum over the taps k of w[k] * lines[k][i]), the weights in `pairs` pairs
 * (lines has an entry for the zero weight of an odd count). */
static void vertical_rows_c(int16_t *restrict r, const unsigned char *const *lines, const int32_t *w, int pairs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int32_t a = 0;
    for (int p = 0; p < pairs; p++) a += pair_lo(w[p]) * lines[2 * p][i] + pair_hi(w[p]) * lines[2 * p + 1][i];
    r[i] = (int16_t)ROW_ROUND(a);
  }
}

/* Horizontal, per output pixel: for each channel, the sum over its pairs of taps of both weights times the row's
 * values, rounded and clamped to a level, into line[3x..3x+2]; `n` pixels (the plan's padding included). */
static void horizontal_rgb_c(unsigned char *restrict line, const int16_t *restrict row, const int *start, const int32_t *wq,
                             int pairs, int n) {
  for (int x = 0; x < n; x++) {
    const int16_t *r = row + (size_t)start[x] * 3;
    const int32_t *w = wq + (size_t)(x / 4) * pairs * 16 + (x % 4) * 4;
    int32_t a0 = 0, a1 = 0, a2 = 0;
    for (int p = 0; p < pairs; p++, r += 6, w += 16) {
      int lo = pair_lo(*w), hi = pair_hi(*w);
      a0 += lo * r[0] + hi * r[3];
      a1 += lo * r[1] + hi * r[4];
      a2 += lo * r[2] + hi * r[5];
    }
    line[(size_t)x * 3] = clamp_level(a0);
    line[(size_t)x * 3 + 1] = clamp_level(a1);
    line[(size_t)x * 3 + 2] = clamp_level(a2);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_PASSES 1

/* Thirty-two values from `i` on: two taps per multiply-add (vpmaddwd: a byte of each row, interleaved, times the
 * pair of weights), the sums in four registers across all the taps. Inlined with a constant pair count for the
 * common counts, so that the taps' loop unrolls away. */
__attribute__((target("avx2"), always_inline)) static inline void vertical_block_avx2(int16_t *restrict r, const unsigned char *const *lines,
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
  /* unpack left values 0-3 and 8-11 in a0, 4-7 and 12-15 in a1: the per-lane pack puts them back in order. */
  const __m256i half = _mm256_set1_epi32(1 << (FIXED_BITS - ROW_BITS - 1));
  const int shift = FIXED_BITS - ROW_BITS;
  a0 = _mm256_srai_epi32(_mm256_add_epi32(a0, half), shift);
  a1 = _mm256_srai_epi32(_mm256_add_epi32(a1, half), shift);
  a2 = _mm256_srai_epi32(_mm256_add_epi32(a2, half), shift);
  a3 = _mm256_srai_epi32(_mm256_add_epi32(a3, half), shift);
  _mm256_storeu_si256((__m256i *)(r + i), _mm256_packs_epi32(a0, a1));
  _mm256_storeu_si256((__m256i *)(r + i + 16), _mm256_packs_epi32(a2, a3));
}

/* The row in blocks of 32 values, the last one overlapping the one before it (values written twice, the same):
 * no scalar tail. */
__attribute__((target("avx2"), always_inline)) static inline void vertical_pairs_avx2(int16_t *restrict r, const unsigned char *const *lines,
                                                                                     const int32_t *w, int pairs, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) vertical_block_avx2(r, lines, w, pairs, i);
  if (i < n) vertical_block_avx2(r, lines, w, pairs, n - 32);
}

__attribute__((target("avx2"))) static void vertical_rows_avx2(int16_t *restrict r, const unsigned char *const *lines,
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

/* Two output pixels per register, x in the low lane and x + 1 in the high one: per pair of taps, one load of 8
 * values from each pixel's taps (R G B of tap j, R G B of tap j + 1, two more), a shuffle that puts each
 * channel's two values side by side, one vpmaddwd with the pair of weights (`w`: x's and x + 1's, 16 int32 on
 * per pair). Four pixels' levels go out as 12 bytes (a 16-byte store: the line has slack). Inlined with a
 * constant pair count for the common counts. */
__attribute__((target("avx2"), always_inline)) static inline __m256i horizontal_two_avx2(const int16_t *restrict row, const int *start,
                                                                                       const int32_t *w, int pairs, int x) {
  const __m256i pick = _mm256_setr_epi8(0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11, -1, -1, -1, -1, 0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11, -1, -1,
                                        -1, -1);
  const int16_t *r0 = row + (size_t)start[x] * 3, *r1 = row + (size_t)start[x + 1] * 3;
  __m256i acc = _mm256_setzero_si256();
  for (int p = 0; p < pairs; p++, r0 += 6, r1 += 6, w += 16) {
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)r0)), _mm_loadu_si128((const __m128i *)r1), 1);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_shuffle_epi8(v, pick), _mm256_loadu_si256((const __m256i *)w)));
  }
  return _mm256_srai_epi32(_mm256_add_epi32(acc, _mm256_set1_epi32(LEVEL_ROUND)), LEVEL_SHIFT);
}

__attribute__((target("avx2"), always_inline)) static inline void horizontal_pairs_avx2(unsigned char *restrict line, const int16_t *restrict row,
                                                                                       const int *start, const int32_t *wq,
                                                                                       int pairs, int n) {
  const __m128i squeeze = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  for (int x = 0; x < n; x += 4) {
    const int32_t *w = wq + (size_t)(x / 4) * pairs * 16;
    __m256i a = horizontal_two_avx2(row, start, w, pairs, x);
    __m256i b = horizontal_two_avx2(row, start, w + 8, pairs, x + 2);
    /* Saturating packs clamp to 0..255: lane 0 holds x and x + 2, lane 1 x + 1 and x + 3, as R G B 0 each. */
    __m256i q = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_setzero_si256());
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm_storeu_si128((__m128i *)(line + (size_t)x * 3), _mm_shuffle_epi8(_mm_unpacklo_epi32(lo, hi), squeeze));
  }
}

__attribute__((target("avx2"))) static void horizontal_rgb_avx2(unsigned char *restrict line, const int16_t *restrict row,
                                                                const int *start, const int32_t *wq, int pairs, int n) {
  switch (pairs) {
    case 1: horizontal_pairs_avx2(line, row, start, wq, 1, n); break;
    case 2: horizontal_pairs_avx2(line, row, start, wq, 2, n); break;
    case 3: horizontal_pairs_avx2(line, row, start, wq, 3, n); break;
    case 4: horizontal_pairs_avx2(line, row, start, wq, 4, n); break;
    case 5: horizontal_pairs_avx2(line, row, start, wq, 5, n); break;
    default: horizontal_pairs_avx2(line, row, start, wq, pairs, n); break;
  }
}

/*
 * The same two passes on 512-bit registers with AVX-512 VNNI (vpdpwssd: the multiply-add and the sum in one
 * instruction, exact as vpmaddwd then vpaddd are for these magnitudes) and VBMI (a byte permute across the
 * register for the output's levels): Ice Lake and later, Zen 4 and later.
 */
#define AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi"

/* Sixty-four values from `i` on; as vertical_block_avx2, per 128-bit lane. */
__attribute__((target(AVX512_TARGET), always_inline)) static inline void vertical_block_avx512(int16_t *restrict r, const unsigned char *const *lines,
                                                                                               const int32_t *w, int pairs, size_t i) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int p = 0; p < pairs; p++) {
    const unsigned char *e = lines[2 * p] + i, *o = lines[2 * p + 1] + i;
    __m512i wp = _mm512_set1_epi32(w[p]);
    __m512i e0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)e));
    __m512i o0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)o));
    __m512i e1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(e + 32)));
    __m512i o1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(o + 32)));
    a0 = _mm512_dpwssd_epi32(a0, _mm512_unpacklo_epi16(e0, o0), wp);
    a1 = _mm512_dpwssd_epi32(a1, _mm512_unpackhi_epi16(e0, o0), wp);
    a2 = _mm512_dpwssd_epi32(a2, _mm512_unpacklo_epi16(e1, o1), wp);
    a3 = _mm512_dpwssd_epi32(a3, _mm512_unpackhi_epi16(e1, o1), wp);
  }
  const __m512i half = _mm512_set1_epi32(1 << (FIXED_BITS - ROW_BITS - 1));
  const int shift = FIXED_BITS - ROW_BITS;
  a0 = _mm512_srai_epi32(_mm512_add_epi32(a0, half), shift);
  a1 = _mm512_srai_epi32(_mm512_add_epi32(a1, half), shift);
  a2 = _mm512_srai_epi32(_mm512_add_epi32(a2, half), shift);
  a3 = _mm512_srai_epi32(_mm512_add_epi32(a3, half), shift);
  _mm512_storeu_si512((void *)(r + i), _mm512_packs_epi32(a0, a1));
  _mm512_storeu_si512((void *)(r + i + 32), _mm512_packs_epi32(a2, a3));
}

__attribute__((target(AVX512_TARGET), always_inline)) static inline void vertical_pairs_avx512(int16_t *restrict r, const unsigned char *const *lines,
                                                                                               const int32_t *w, int pairs, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) vertical_block_avx512(r, lines, w, pairs, i);
  if (i < n) vertical_block_avx512(r, lines, w, pairs, n - 64);
}

__attribute__((target(AVX512_TARGET))) static void vertical_rows_avx512(int16_t *restrict r, const unsigned char *const *lines,
                                                                        const int32_t *w, int pairs, size_t n) {
  if (n < 64) {
    vertical_rows_avx2(r, lines, w, pairs, n);
    return;
  }
  switch (pairs) {
    case 1: vertical_pairs_avx512(r, lines, w, 1, n); break;
    case 2: vertical_pairs_avx512(r, lines, w, 2, n); break;
    case 3: vertical_pairs_avx512(r, lines, w, 3, n); break;
    default: vertical_pairs_avx512(r, lines, w, pairs, n); break;
  }
}

/* Four output pixels per register, x + k in lane k; otherwise as horizontal_two_avx2 (`w`: the four's weights). */
__attribute__((target(AVX512_TARGET), always_inline)) static inline __m512i horizontal_four_avx512(const int16_t *restrict row, const int *start,
                                                                                                 const int32_t *w, int pairs, int x) {
  const __m512i pick = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11, -1, -1, -1, -1));
  const int16_t *r0 = row + (size_t)start[x] * 3, *r1 = row + (size_t)start[x + 1] * 3;
  const int16_t *r2 = row + (size_t)start[x + 2] * 3, *r3 = row + (size_t)start[x + 3] * 3;
  __m512i acc = _mm512_setzero_si512();
  for (int p = 0; p < pairs; p++, r0 += 6, r1 += 6, r2 += 6, r3 += 6, w += 16) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)r0));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r1), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r2), 2);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r3), 3);
    acc = _mm512_dpwssd_epi32(acc, _mm512_shuffle_epi8(v, pick), _mm512_loadu_si512((const void *)w));
  }
  return _mm512_srai_epi32(_mm512_add_epi32(acc, _mm512_set1_epi32(LEVEL_ROUND)), LEVEL_SHIFT);
}

/* After the packs, lane k holds pixel x + k's R G B 0 in bytes 0-3 and pixel x + 4 + k's in bytes 4-7: output
 * byte 3p + c is lane p % 4's byte (p / 4) * 4 + c. */
static const uint8_t QUAD_LEVELS_ORDER[64] = {0, 1, 2, 16, 17, 18, 32, 33, 34, 48, 49, 50,
                                              4, 5, 6, 20, 21, 22, 36, 37, 38, 52, 53, 54};

/* Eight pixels a step (the plan pads to PAIRED_PAD): their levels clamped by saturating packs, then one byte
 * permute into R G B order and a 24-byte masked store. */
__attribute__((target(AVX512_TARGET), always_inline)) static inline void horizontal_quads_avx512(unsigned char *restrict line, const int16_t *restrict row,
                                                                                               const int *start, const int32_t *wq, int pairs,
                                                                                               int n) {
  const __m512i gather = _mm512_loadu_si512((const void *)QUAD_LEVELS_ORDER);
  for (int x = 0; x < n; x += 8) {
    const int32_t *w = wq + (size_t)(x / 4) * pairs * 16;
    __m512i a = horizontal_four_avx512(row, start, w, pairs, x);
    __m512i b = horizontal_four_avx512(row, start, w + (size_t)pairs * 16, pairs, x + 4);
    __m512i q = _mm512_packus_epi16(_mm512_packs_epi32(a, b), _mm512_setzero_si512());
    _mm512_mask_storeu_epi8(line + (size_t)x * 3, (__mmask64)0xffffff, _mm512_permutexvar_epi8(gather, q));
  }
}

__attribute__((target(AVX512_TARGET))) static void horizontal_rgb_avx512(unsigned char *restrict line, const int16_t *restrict row,
                                                                         const int *start, const int32_t *wq, int pairs, int n) {
  switch (pairs) {
    case 1: horizontal_quads_avx512(line, row, start, wq, 1, n); break;
    case 2: horizontal_quads_avx512(line, row, start, wq, 2, n); break;
    case 3: horizontal_quads_avx512(line, row, start, wq, 3, n); break;
    case 4: horizontal_quads_avx512(line, row, start, wq, 4, n); break;
    case 5: horizontal_quads_avx512(line, row, start, wq, 5, n); break;
    default: horizontal_quads_avx512(line, row, start, wq, pairs, n); break;
  }
}
#endif

/*
 * Which versions of the two passes run, process-wide: the widest the CPU has, unless a narrower one is chosen
 * (resampleKernels(name), for the tests that hold every version to the portable one's values).
 */
enum { KERNELS_PORTABLE = 0, KERNELS_AVX2 = 1, KERNELS_AVX512 = 2 };
static const char *const KERNEL_NAMES[] = {"portable", "avx2", "avx512"};
static int kernels = -1;

static int widest_kernels(void) {
#ifdef HAVE_X86_PASSES
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
      __builtin_cpu_supports("avx512vbmi"))
    return KERNELS_AVX512;
  if (__builtin_cpu_supports("avx2")) return KERNELS_AVX2;
#endif
  return KERNELS_PORTABLE;
}

static int active_kernels(void) {
  if (kernels < 0) kernels = widest_kernels();
  return kernels;
}

static void vertical_rows(int16_t *restrict r, const unsigned char *const *lines, const int32_t *w, int pairs, size_t n) {
#ifdef HAVE_X86_PASSES
  switch (active_kernels()) {
    case KERNELS_AVX512: vertical_rows_avx512(r, lines, w, pairs, n); return;
    case KERNELS_AVX2: vertical_rows_avx2(r, lines, w, pairs, n); return;
    default: break;
  }
#endif
  vertical_rows_c(r, lines, w, pairs, n);
}

/* `n`: a multiple of PAIRED_PAD (the plan's padding); the line holds that many pixels, and 4 more bytes. */
static void horizontal_rgb(unsigned char *restrict line, const int16_t *restrict row, const int *start, const int32_t *wq, int pairs,
                           int n) {
#ifdef HAVE_X86_PASSES
  switch (active_kernels()) {
    case KERNELS_AVX512: horizontal_rgb_avx512(line, row, start, wq, pairs, n); return;
    case KERNELS_AVX2: horizontal_rgb_avx2(line, row, start, wq, pairs, n); return;
    default: break;
  }
#endif
  horizontal_rgb_c(line, row, start, wq, pairs, n);
}

/* A row of levels as float32 output, `level * scale[i] + offset[i]` (scale and offset laid out per value); vectorises. */
AVX2_CLONE
static void store_f32(float *restrict out, const unsigned char *restrict v, const float *restrict scale, const float *restrict offset,
                      size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = (float)v[i] * scale[i] + offset[i];
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
  int ycc, subsamp; /* YCbCr-coded, and its TJSAMP_* subsampling (the planar path) */
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
  pl->ycc = colorspace == TJCS_YCbCr;
  pl->subsamp = subsamp;
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

/* The output's row of RGB levels as the passes write it, and for float32 output its per-value scale and offset. */
typedef struct {
  unsigned char *line;
  float *scale, *offset;
  size_t n; /* values in a row: out_w * 3 */
} OutputLine;

/* The state's line for `padded` pixels (the plan's padding and a 16-byte store's 4 bytes past it), then scale and
 * offset (aligned); 0 when memory runs out. */
static int output_line(State *s, const Request *rq, size_t padded, OutputLine *ol) {
  size_t n = (size_t)rq->out_w * 3, line_bytes = (padded * 3 + 4 + 15) & ~(size_t)15;
  if (!grow((void **)&s->line, &s->line_cap, line_bytes + 2 * sizeof(float) * n)) return 0;
  ol->line = s->line;
  ol->n = n;
  ol->scale = (float *)(s->line + line_bytes);
  ol->offset = ol->scale + n;
  for (size_t i = 0; i < n; i++) {
    ol->scale[i] = rq->norm_scale ? rq->norm_scale[i % 3] : 1;
    ol->offset[i] = rq->norm_scale ? rq->norm_offset[i % 3] : 0;
  }
  return 1;
}

/* The line into the output at value `o`: copied, or scaled into float32. */
static void write_line(const Request *rq, const OutputLine *ol, size_t o) {
  if (rq->out8) memcpy(rq->out8 + o, ol->line, ol->n);
  else store_f32(rq->out32 + o, ol->line, ol->scale, ol->offset, ol->n);
}

/* The decoded pixels resampled, oriented and converted into the output. */
static int resample(State *s, const Request *rq, const Plan *pl) {
  int out_w = rq->out_w, out_h = rq->out_h, out_c = rq->out_c, src_c = pl->src_c, vw = pl->vw;
  ptrdiff_t C = src_c, origin = pl->origin, du = pl->du, dv = pl->dv;
  const float *norm_scale = rq->norm_scale, *norm_offset = rq->norm_offset;
  /* The common case, RGB in and out: the horizontal pass writes a row of levels, copied (or scaled) into the
   * output. */
  int rgb_fast = src_c == 3 && out_c == 3;
  const AxisPlan *px_plan = plan_axis(s, out_w, vw, pl->scale_x, pl->off_x, rq->interp, pl->mirror_x, 0, rgb_fast);
  const AxisPlan *py_plan = px_plan ? plan_axis(s, out_h, pl->vh, pl->scale_y, pl->off_y, rq->interp, 0, 0, 0) : NULL;
  /* The second lookup may not evict the first: the plans are taken least recently used, and the first was just used. */
  if (!px_plan || !py_plan) return DECODE_STATUS_ERR_MEMORY;
  const Axis *ax = &px_plan->axis, *ay = &py_plan->axis;
  int u_lo = px_plan->lo, u_hi = px_plan->hi, read_hi = px_plan->read_hi;
  size_t row_n = (size_t)(read_hi > vw ? read_hi : vw) * src_c + 8;
  if (!grow((void **)&s->scratch, &s->scratch_cap, sizeof(int16_t) * row_n)) return DECODE_STATUS_ERR_MEMORY;
  if (du != C && !grow((void **)&s->sums, &s->sums_cap, sizeof(int32_t) * row_n)) return DECODE_STATUS_ERR_MEMORY;
  size_t padded = PAD_OUT((size_t)out_w);
  OutputLine ol;
  if (rgb_fast && !output_line(s, rq, padded, &ol)) return DECODE_STATUS_ERR_MEMORY;
  if (!grow((void **)&s->taps, &s->taps_cap, sizeof(*s->taps) * ((size_t)ay->max_taps + 1))) return DECODE_STATUS_ERR_MEMORY;
  const unsigned char *px = s->pixels;
  int16_t *row = s->scratch;
  /* Past the last pixel the taps use, the pairs read up to read_hi pixels with zero weights, and two values more
   * (the ignored end of each 8-value load). The vertical pass does not write there: keep them defined. */
  memset(row + (size_t)u_hi * src_c, 0, sizeof(int16_t) * (row_n - (size_t)u_hi * src_c));
  unsigned char *out8 = rq->out8;
  float *out32 = rq->out32;
  int to_gray = out_c == 1 && src_c == 3;
  size_t run = (size_t)(u_hi - u_lo) * src_c;
  for (int y = 0; y < out_h; y++) {
    /* Vertical pass: one row of the oriented image, weighted over the output row's taps, in fixed point. */
    const int32_t *wy = py_plan->fixed + (size_t)y * py_plan->pairs;
    int count = ay->count[y];
    if (du == C) {
      /* Rows in storage order: contiguous runs of bytes (an odd count's zero weight reads its last row again). */
      for (int k = 0; k < count; k++) s->taps[k] = px + origin + (ptrdiff_t)(ay->start[y] + k) * dv + (ptrdiff_t)u_lo * C;
      s->taps[count] = s->taps[count - 1];
      vertical_rows(row + (size_t)u_lo * src_c, s->taps, wy, (count + 1) / 2, run);
    } else {
      int32_t *sums = s->sums + (size_t)u_lo * src_c;
      memset(sums, 0, sizeof(int32_t) * run);
      for (int k = 0; k < count; k++) {
        const unsigned char *line_k = px + origin + (ptrdiff_t)(ay->start[y] + k) * dv;
        int wk = k % 2 ? pair_hi(wy[k / 2]) : pair_lo(wy[k / 2]);
        if (src_c == 3) {
          for (int u = u_lo; u < u_hi; u++) {
            const unsigned char *p = line_k + u * du;
            int32_t *r = sums + (size_t)(u - u_lo) * 3;
            r[0] += wk * p[0];
            r[1] += wk * p[1];
            r[2] += wk * p[2];
          }
        } else {
          for (int u = u_lo; u < u_hi; u++) sums[u - u_lo] += wk * line_k[u * du];
        }
      }
      int16_t *r = row + (size_t)u_lo * src_c;
      for (size_t i = 0; i < run; i++) r[i] = (int16_t)ROW_ROUND(sums[i]);
    }
    size_t o = (size_t)y * out_w * out_c;
    if (rgb_fast) {
      horizontal_rgb(ol.line, row, px_plan->pair_start, px_plan->pair_weights, px_plan->pairs, (int)padded);
      write_line(rq, &ol, o);
      continue;
    }
    /* Horizontal pass, colour and dtype conversion, straight into the output. */
    for (int x = 0; x < out_w; x++, o += out_c) {
      const int32_t *wx = px_plan->fixed + (size_t)x * px_plan->pairs;
      const int16_t *r = row + (size_t)ax->start[x] * src_c;
      int n = ax->count[x];
      int q[4];
      if (src_c == 3) {
        int32_t a0 = 0, a1 = 0, a2 = 0;
        for (int j = 0; j < n; j++, r += 3) {
          int wj = j % 2 ? pair_hi(wx[j / 2]) : pair_lo(wx[j / 2]);
          a0 += wj * r[0];
          a1 += wj * r[1];
          a2 += wj * r[2];
        }
        q[0] = clamp_level(a0);
        q[1] = clamp_level(a1);
        q[2] = clamp_level(a2);
        if (to_gray) {
          /* Rec. 601 luma of the sRGB values in PIL's integer form (convert('L')), as the sharp path gives. */
          q[0] = (q[0] * 19595 + q[1] * 38470 + q[2] * 7471 + 0x8000) >> 16;
        }
      } else {
        int32_t a0 = 0;
        for (int j = 0; j < n; j++) a0 += (j % 2 ? pair_hi(wx[j / 2]) : pair_lo(wx[j / 2])) * r[j];
        q[0] = q[1] = q[2] = clamp_level(a0);
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

/*
 * The planar path: a YCbCr JPEG decoded to its planes (libjpeg-turbo's raw output: no chroma upsampling, no colour
 * conversion), each plane resampled on its own to the output size (the chroma planes from their own, subsampled
 * grid: the same window of the image, so a chroma coordinate is the luma one over the subsampling factor), then
 * converted to RGB at the output size. libjpeg-turbo's upsampling and colour conversion cost about a sixth of its
 * decode; here the conversion runs on the output's pixels only. The values differ from the RGB path's by the
 * chroma filter (libjpeg's triangle upsampling then the resampler's, against the resampler's alone on the
 * subsampled grid) and by where the clamp to 0-255 falls: well within the tests' tolerance of sharp (see
 * docs/jpeg-fast-path.md). Non-YCbCr files, the transposing orientations (5-8), other kernels or channel counts
 * take the RGB path.
 */

/* TurboJPEG's subsampling codes (TJSAMP_444, 422, 420, GRAY, 440, 411, 441) as chroma factors, the MCU's size over 8. */
#define SAMP_CODES 7
#define TJSAMP_GRAY 3
static const int SAMP_FX[SAMP_CODES] = {1, 2, 2, 1, 1, 4, 1};
static const int SAMP_FY[SAMP_CODES] = {1, 1, 2, 1, 2, 1, 4};

/* The resampled planes' fractional bits before the conversion rounds to levels: its int16 sums stay below 16,000. */
#define PLANE_BITS 5
#define PLANE_MAX (255 << PLANE_BITS)

/* Whether the planar path runs where it can (decodePlanar(enabled): off, for the tests that compare the two). */
static int planar_on = 1;

static int planar_eligible(const State *s, const Request *rq, const Plan *pl) {
  return planar_on && s->api->DecompressToYUVPlanes != NULL && pl->ycc && pl->src_c == 3 && rq->out_c == 3 &&
         rq->orientation <= 4 && rq->interp == INTERPOLATION_BILINEAR && pl->denom == 1 && pl->subsamp >= 0 &&
         pl->subsamp < SAMP_CODES && pl->subsamp != TJSAMP_GRAY && SAMP_FX[pl->subsamp] <= 2 && SAMP_FY[pl->subsamp] <= 2;
}

static inline int16_t plane_level(int32_t a) {
  int32_t q = (a + (1 << (LEVEL_SHIFT - PLANE_BITS - 1))) >> (LEVEL_SHIFT - PLANE_BITS);
  return (int16_t)(q < 0 ? 0 : q > PLANE_MAX ? PLANE_MAX : q);
}

/* One channel's horizontal pass: out[x] = the row's values over x's taps (contiguous), PLANE_BITS fixed point; `n`
 * outputs, the plan's padding included. */
static void horizontal_mono_c(int16_t *restrict out, const int16_t *restrict row, const AxisPlan *p, int n) {
  for (int x = 0; x < n; x++) {
    const int16_t *r = row + p->pair_start[x];
    const int32_t *w = p->fixed + (size_t)(x < p->out_len ? x : p->out_len - 1) * p->pairs;
    int32_t a = 0;
    for (int j = 0; j < p->pairs; j++) a += pair_lo(w[j]) * r[2 * j] + pair_hi(w[j]) * r[2 * j + 1];
    out[x] = plane_level(a);
  }
}

#ifdef HAVE_X86_PASSES
/* Eight outputs a step: each one's 8 values (MONO_PAIRS pairs) times its pairs of weights (vpmaddwd), the four
 * sums of each reduced by two rounds of horizontal adds, put back in order, rounded, clamped, packed. */
__attribute__((target("avx2"))) static void horizontal_mono_avx2(int16_t *restrict out, const int16_t *restrict row, const AxisPlan *p, int n) {
  const int *start = p->pair_start;
  const int32_t *w = p->pair_weights;
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i half = _mm256_set1_epi32(1 << (LEVEL_SHIFT - PLANE_BITS - 1)), top = _mm256_set1_epi32(PLANE_MAX);
  for (int x = 0; x < n; x += 8) {
    __m256i m[4];
    for (int k = 0; k < 4; k++) {
      int a = x + 2 * k;
      __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(row + start[a]))),
                                          _mm_loadu_si128((const __m128i *)(row + start[a + 1])), 1);
      m[k] = _mm256_madd_epi16(v, _mm256_loadu_si256((const __m256i *)(w + (size_t)a * MONO_PAIRS)));
    }
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(m[0], m[1]), _mm256_hadd_epi32(m[2], m[3]));
    h = _mm256_permutevar8x32_epi32(h, order);
    h = _mm256_srai_epi32(_mm256_add_epi32(h, half), LEVEL_SHIFT - PLANE_BITS);
    h = _mm256_min_epi32(_mm256_max_epi32(h, _mm256_setzero_si256()), top);
    __m256i q = _mm256_permute4x64_epi64(_mm256_packs_epi32(h, h), 0x08);
    _mm_storeu_si128((__m128i *)(out + x), _mm256_castsi256_si128(q));
  }
}
#endif

#ifdef HAVE_X86_PASSES
/* Sixteen outputs a step, from one window of 64 values: per pair of taps one permute (vpermt2w) puts each
 * output's pair in its 32-bit lane, one vpdpwssd adds it times the weights. `n` rounded up to MONO_GROUP (the
 * output has room). */
__attribute__((target(AVX512_TARGET))) static void horizontal_mono_avx512(int16_t *restrict out, const int16_t *restrict row, const AxisPlan *p,
                                                                          int n) {
  const __m512i half = _mm512_set1_epi32(1 << (LEVEL_SHIFT - PLANE_BITS - 1)), top = _mm512_set1_epi32(PLANE_MAX);
  int pairs = p->pairs;
  for (int g = 0, x = 0; x < n; g++, x += MONO_GROUP) {
    const int16_t *window = row + p->pair_start[x];
    __m512i lo = _mm512_loadu_si512((const void *)window), hi = _mm512_loadu_si512((const void *)(window + 32));
    __m512i acc = _mm512_setzero_si512();
    for (int j = 0; j < pairs; j++) {
      size_t at = (size_t)g * pairs + j;
      __m512i v = _mm512_permutex2var_epi16(lo, _mm512_loadu_si512((const void *)(p->group_index + at * 32)), hi);
      acc = _mm512_dpwssd_epi32(acc, v, _mm512_loadu_si512((const void *)(p->group_weights + at * MONO_GROUP)));
    }
    acc = _mm512_srai_epi32(_mm512_add_epi32(acc, half), LEVEL_SHIFT - PLANE_BITS);
    acc = _mm512_min_epi32(_mm512_max_epi32(acc, _mm512_setzero_si512()), top);
    _mm256_storeu_si256((__m256i *)(out + x), _mm512_cvtepi32_epi16(acc));
  }
}
#endif

static void horizontal_mono(int16_t *restrict out, const int16_t *restrict row, const AxisPlan *p, int n) {
#ifdef HAVE_X86_PASSES
  if (active_kernels() == KERNELS_AVX512 && p->group_ok) {
    horizontal_mono_avx512(out, row, p, n);
    return;
  }
  if (active_kernels() != KERNELS_PORTABLE && p->pairs <= MONO_PAIRS) {
    horizontal_mono_avx2(out, row, p, n);
    return;
  }
#endif
  horizontal_mono_c(out, row, p, n);
}

/*
 * YCbCr (PLANE_BITS fixed point) to RGB levels: R = Y + 1.402 Cr', G = Y - 0.34414 Cb' - 0.71414 Cr',
 * B = Y + 1.772 Cb' (Cb' = Cb - 128, Cr' = Cr - 128; libjpeg's jdcolor.c constants), rounded once and clamped to
 * 0-255. The fractional parts of the factors as Q15 multipliers (vpmulhrsw: (a * m + 2^14) >> 15), so that the
 * vector version and the portable one compute the same integers, in int16.
 */
#define YCC_CR_R 13173 /* 0.402 */
#define YCC_CB_G 11277 /* 0.34414 */
#define YCC_CR_G 23401 /* 0.71414 */
#define YCC_CB_B 25297 /* 0.772 */
static inline int mulhrs(int a, int m) { return (a * m + (1 << 14)) >> 15; }
static inline unsigned char ycc_level(int v) {
  v = (v + (1 << (PLANE_BITS - 1))) >> PLANE_BITS;
  return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void ycc_to_rgb_c(unsigned char *restrict line, const int16_t *restrict Y, const int16_t *restrict Cb, const int16_t *restrict Cr, int n) {
  for (int x = 0; x < n; x++) {
    int y = Y[x], cb = Cb[x] - (128 << PLANE_BITS), cr = Cr[x] - (128 << PLANE_BITS);
    line[3 * x] = ycc_level(y + cr + mulhrs(cr, YCC_CR_R));
    line[3 * x + 1] = ycc_level(y - mulhrs(cb, YCC_CB_G) - mulhrs(cr, YCC_CR_G));
    line[3 * x + 2] = ycc_level(y + cb + mulhrs(cb, YCC_CB_B));
  }
}

#ifdef HAVE_X86_PASSES
/* Sixteen pixels' R, G and B bytes into 48 bytes of RGB: output byte 16 * part + i (pixel b / 3, channel b % 3 for
 * b = 16 * part + i) comes from RGB_PICK[part][b % 3][i] = b / 3; 0x80 gives zero, for the other two channels. */
#define Z 0x80
static const uint8_t RGB_PICK[3][3][16] = {
    {{0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z, 5}, {Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z}, {Z, Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z}},
    {{Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10, Z}, {5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10}, {Z, 5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z}},
    {{Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z, Z}, {Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z}, {10, Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15}},
};
#undef Z

/* Sixteen pixels a step: the three channels in int16 (vpmulhrsw), rounded and packed to bytes with saturation,
 * then each of the 48 output bytes picked from the R, G or B vector by a shuffle and the three or-ed. */
__attribute__((target("avx2"))) static void ycc_to_rgb_avx2(unsigned char *restrict line, const int16_t *restrict Y, const int16_t *restrict Cb,
                                                            const int16_t *restrict Cr, int n) {
  const uint8_t(*pick)[3][16] = RGB_PICK;
  const __m256i bias = _mm256_set1_epi16(128 << PLANE_BITS), half = _mm256_set1_epi16(1 << (PLANE_BITS - 1));
  const __m256i cr_r = _mm256_set1_epi16(YCC_CR_R), cb_g = _mm256_set1_epi16(YCC_CB_G), cr_g = _mm256_set1_epi16(YCC_CR_G),
                cb_b = _mm256_set1_epi16(YCC_CB_B);
  int x = 0;
  for (; x + 16 <= n; x += 16) {
    __m256i y = _mm256_add_epi16(_mm256_loadu_si256((const __m256i *)(Y + x)), half);
    __m256i cb = _mm256_sub_epi16(_mm256_loadu_si256((const __m256i *)(Cb + x)), bias);
    __m256i cr = _mm256_sub_epi16(_mm256_loadu_si256((const __m256i *)(Cr + x)), bias);
    __m256i r = _mm256_add_epi16(_mm256_add_epi16(y, cr), _mm256_mulhrs_epi16(cr, cr_r));
    __m256i g = _mm256_sub_epi16(_mm256_sub_epi16(y, _mm256_mulhrs_epi16(cb, cb_g)), _mm256_mulhrs_epi16(cr, cr_g));
    __m256i b = _mm256_add_epi16(_mm256_add_epi16(y, cb), _mm256_mulhrs_epi16(cb, cb_b));
    /* Arithmetic shifts, then packs that saturate to 0-255; the per-lane pack's order undone by the permute. */
    __m256i rg = _mm256_permute4x64_epi64(_mm256_packus_epi16(_mm256_srai_epi16(r, PLANE_BITS), _mm256_srai_epi16(g, PLANE_BITS)), 0xd8);
    __m256i bb = _mm256_permute4x64_epi64(_mm256_packus_epi16(_mm256_srai_epi16(b, PLANE_BITS), _mm256_srai_epi16(b, PLANE_BITS)), 0xd8);
    __m128i vr = _mm256_castsi256_si128(rg), vg = _mm256_extracti128_si256(rg, 1), vb = _mm256_castsi256_si128(bb);
    for (int part = 0; part < 3; part++) {
      __m128i o = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(vr, _mm_loadu_si128((const __m128i *)pick[part][0])),
                                            _mm_shuffle_epi8(vg, _mm_loadu_si128((const __m128i *)pick[part][1]))),
                               _mm_shuffle_epi8(vb, _mm_loadu_si128((const __m128i *)pick[part][2])));
      _mm_storeu_si128((__m128i *)(line + (size_t)x * 3 + part * 16), o);
    }
  }
  ycc_to_rgb_c(line + (size_t)x * 3, Y + x, Cb + x, Cr + x, n - x);
}
#endif

/* One output row of resampled planes into the line of RGB levels, `n` pixels (the line has room for them). */
static void ycc_to_rgb(unsigned char *restrict line, const int16_t *Y, const int16_t *Cb, const int16_t *Cr, int n) {
#ifdef HAVE_X86_PASSES
  if (active_kernels() != KERNELS_PORTABLE) {
    ycc_to_rgb_avx2(line, Y, Cb, Cr, n);
    return;
  }
#endif
  ycc_to_rgb_c(line, Y, Cb, Cr, n);
}

/* The planes of the planned decode (no DCT scaling), in the state's pixel buffer: luma, then the two chroma planes. */
typedef struct {
  unsigned char *plane[3];
  int stride[3];
  int fx, fy; /* the chroma subsampling factors */
} Planes;

static int decode_planes(State *s, const Request *rq, const Plan *pl, Planes *pp) {
  int fx = SAMP_FX[pl->subsamp], fy = SAMP_FY[pl->subsamp];
  /* tjPlaneWidth/Height: the luma plane padded to whole chroma samples, each chroma plane that over the factor. */
  int pw = (pl->sw + fx - 1) / fx * fx, ph = (pl->sh + fy - 1) / fy * fy;
  int cw = pw / fx, ch = ph / fy;
  size_t luma = (size_t)pw * ph, chroma = (size_t)cw * ch;
  if (!grow((void **)&s->pixels, &s->pixels_cap, luma + 2 * chroma)) return DECODE_STATUS_ERR_MEMORY;
  pp->plane[0] = s->pixels;
  pp->plane[1] = s->pixels + luma;
  pp->plane[2] = s->pixels + luma + chroma;
  pp->stride[0] = pw;
  pp->stride[1] = pp->stride[2] = cw;
  pp->fx = fx;
  pp->fy = fy;
  if (s->api->DecompressToYUVPlanes(s->tj, rq->jpeg, (unsigned long)rq->jpeg_len, pp->plane, pl->sw, pp->stride, pl->sh,
                                    TJFLAG_STOPONWARNING) != 0)
    return DECODE_STATUS_ERR_DECODE;
  return DECODE_STATUS_OK;
}

/* Each plane resampled row by row, the output row converted to RGB and written as the RGB path writes its line. */
static int resample_planes(State *s, const Request *rq, const Plan *pl, const Planes *pp) {
  int out_w = rq->out_w, out_h = rq->out_h;
  /* [0]: luma's axes; [1]: both chroma planes'. Orientations 2-4 mirror an axis's taps (rows are read through
   * their own pointers, so a flipped image needs no backward strides). */
  const AxisPlan *px[2], *py[2];
  int mirror_y = rq->orientation == 3 || rq->orientation == 4;
  size_t row_n[2];
  for (int k = 0; k < 2; k++) {
    /* The luma taps, folded for a subsampled chroma axis through libjpeg's upsampling (fold_fancy_upsampling):
     * over the chroma samples, the weights the RGB path gives them. Four lookups: none evicts another (least
     * recently used out of AXIS_PLANS). */
    int fx = k ? pp->fx : 1, fy = k ? pp->fy : 1;
    int len_x = (pl->vw + fx - 1) / fx;
    px[k] = plan_axis(s, out_w, pl->vw, pl->scale_x, pl->off_x, rq->interp, pl->mirror_x, fx == 2, PAIRED_MONO);
    py[k] = px[k] ? plan_axis(s, out_h, pl->vh, pl->scale_y, pl->off_y, rq->interp, mirror_y, fy == 2, 0) : NULL;
    if (!px[k] || !py[k]) return DECODE_STATUS_ERR_MEMORY;
    row_n[k] = (size_t)(px[k]->read_hi > len_x ? px[k]->read_hi : len_x) + 8;
  }
  size_t padded = PAD_OUT((size_t)out_w), grouped = PAD_GROUP((size_t)out_w);
  int most_taps = py[0]->axis.max_taps > py[1]->axis.max_taps ? py[0]->axis.max_taps : py[1]->axis.max_taps;
  if (!grow((void **)&s->scratch, &s->scratch_cap, sizeof(int16_t) * (row_n[0] + 2 * row_n[1] + 3 * grouped)) ||
      !grow((void **)&s->taps, &s->taps_cap, sizeof(*s->taps) * ((size_t)most_taps + 1)))
    return DECODE_STATUS_ERR_MEMORY;
  OutputLine ol;
  if (!output_line(s, rq, padded, &ol)) return DECODE_STATUS_ERR_MEMORY;
  int16_t *rows[3], *levels[3];
  rows[0] = s->scratch;
  rows[1] = rows[0] + row_n[0];
  rows[2] = rows[1] + row_n[1];
  levels[0] = rows[2] + row_n[1];
  levels[1] = levels[0] + grouped;
  levels[2] = levels[1] + grouped;
  for (int k = 0; k < 3; k++) {
    const AxisPlan *ax = px[k ? 1 : 0];
    /* Past the last value the taps use the 8-value loads read with zero weights: keep those defined. */
    memset(rows[k] + ax->hi, 0, sizeof(int16_t) * (row_n[k ? 1 : 0] - (size_t)ax->hi));
  }
  for (int y = 0; y < out_h; y++) {
    for (int k = 0; k < 3; k++) {
      const AxisPlan *ax = px[k ? 1 : 0], *ay = py[k ? 1 : 0];
      int count = ay->axis.count[y];
      const unsigned char *plane = pp->plane[k];
      for (int j = 0; j < count; j++) s->taps[j] = plane + (ptrdiff_t)(ay->axis.start[y] + j) * pp->stride[k] + ax->lo;
      s->taps[count] = s->taps[count - 1];
      vertical_rows(rows[k] + ax->lo, s->taps, ay->fixed + (size_t)y * ay->pairs, (count + 1) / 2, (size_t)(ax->hi - ax->lo));
      horizontal_mono(levels[k], rows[k], ax, (int)padded);
    }
    ycc_to_rgb(ol.line, levels[0], levels[1], levels[2], (int)padded);
    write_line(rq, &ol, (size_t)y * out_w * 3);
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
  if (status == DECODE_STATUS_OK && planar_eligible(s, &rq, &pl)) {
    Planes pp;
    status = decode_planes(s, &rq, &pl, &pp);
    if (status == DECODE_STATUS_OK) status = resample_planes(s, &rq, &pl, &pp);
  } else if (status == DECODE_STATUS_OK) {
    status = decode_pixels(s, &rq, &pl);
    if (status == DECODE_STATUS_OK) status = resample(s, &rq, &pl);
  }
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

/* resampleKernels([name]) -> the versions of the resampling passes that run: "avx512", "avx2" or "portable". `name`
 * picks one of those the CPU has (another name, or one it lacks, changes nothing); process-wide. Every version
 * gives the same values; this lets the tests hold them to it. */
static napi_value resample_kernels_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) {
    char name[16];
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) == napi_ok) {
      for (int k = 0; k <= widest_kernels(); k++)
        if (strcmp(name, KERNEL_NAMES[k]) == 0) kernels = k;
    }
  }
  napi_create_string_utf8(env, KERNEL_NAMES[active_kernels()], NAPI_AUTO_LENGTH, &v);
  return v;
}

/* decodePlanar([enabled]) -> whether YCbCr JPEGs take the planar path where it applies (on, and the opened library
 * has the planes API); `enabled` turns it off or on, process-wide. For the tests and the bench that compare the two
 * paths. */
static napi_value decode_planar_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool enabled;
  if (argc >= 1 && napi_get_value_bool(env, argv[0], &enabled) == napi_ok) planar_on = enabled;
  const TurboJpeg *api = turbojpeg();
  napi_get_boolean(env, planar_on && api != NULL && api->DecompressToYUVPlanes != NULL, &v);
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
      {"resampleKernels", NULL, resample_kernels_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decodePlanar", NULL, decode_planar_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"abi", NULL, abi_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}
