/*
 * The consumer's step of a float32 loader whose ring holds 8-bit levels: one slot's levels into its row of the
 * batch, `level * scale[c] + offset[c]` per value, in float32 (the product rounded, then the sum: no fused
 * multiply-add), so that the batch holds the values the decoder would have written as float32 itself.
 *
 * expandLevels(src Uint8Array, dst Float32Array, dstOffset, scale Float32Array, offset Float32Array) -> bool
 *   src.length values (a whole number of pixels of scale.length channels, 1 to 4) go to
 *   dst[dstOffset, dstOffset + src.length); false, nothing written, when the arguments do not fit that.
 */
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 24 values: a whole number of pixels for 1 to 4 channels and of 8-lane vectors. */
#define PERIOD 24

static void expand_c(float *restrict dst, const unsigned char *restrict src, const float *s, const float *o, size_t n) {
  size_t i = 0;
  for (; i + PERIOD <= n; i += PERIOD)
    for (int j = 0; j < PERIOD; j++) dst[i + j] = (float)src[i + j] * s[j] + o[j];
  for (int j = 0; i < n; i++, j++) dst[i] = (float)src[i] * s[j] + o[j];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_EXPAND 1

/* Up to a 32-byte boundary one value at a time, then whole vectors streamed past the cache: a batch is larger than
 * any cache and is read once, later, by whoever holds it, and a plain store would first read every line it writes. */
__attribute__((target("avx2"))) static void expand_avx2(float *restrict dst, const unsigned char *restrict src, const float *s,
                                                        const float *o, size_t n) {
  size_t i = 0;
  for (; i < n && ((uintptr_t)(dst + i) & 31) != 0; i++) dst[i] = (float)src[i] * s[i % PERIOD] + o[i % PERIOD];
  float sr[PERIOD], orr[PERIOD];
  for (int j = 0; j < PERIOD; j++) {
    sr[j] = s[(i + j) % PERIOD];
    orr[j] = o[(i + j) % PERIOD];
  }
  __m256 s0 = _mm256_loadu_ps(sr), s1 = _mm256_loadu_ps(sr + 8), s2 = _mm256_loadu_ps(sr + 16);
  __m256 o0 = _mm256_loadu_ps(orr), o1 = _mm256_loadu_ps(orr + 8), o2 = _mm256_loadu_ps(orr + 16);
#define LEVELS(p) _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
  for (; i + PERIOD <= n; i += PERIOD) {
    _mm256_stream_ps(dst + i, _mm256_add_ps(_mm256_mul_ps(LEVELS(src + i), s0), o0));
    _mm256_stream_ps(dst + i + 8, _mm256_add_ps(_mm256_mul_ps(LEVELS(src + i + 8), s1), o1));
    _mm256_stream_ps(dst + i + 16, _mm256_add_ps(_mm256_mul_ps(LEVELS(src + i + 16), s2), o2));
  }
#undef LEVELS
  _mm_sfence();
  for (int j = 0; i < n; i++, j++) dst[i] = (float)src[i] * sr[j] + orr[j];
}
#endif

napi_value imgstream_expand_levels(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  napi_get_boolean(env, false, &result);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return result;
  napi_typedarray_type t0, t1, t3, t4;
  size_t n, dst_len, channels, offsets;
  void *src, *dst, *scale, *offset;
  int64_t at;
  if (napi_get_typedarray_info(env, argv[0], &t0, &n, &src, NULL, NULL) != napi_ok || t0 != napi_uint8_array ||
      napi_get_typedarray_info(env, argv[1], &t1, &dst_len, &dst, NULL, NULL) != napi_ok || t1 != napi_float32_array ||
      napi_get_value_int64(env, argv[2], &at) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &t3, &channels, &scale, NULL, NULL) != napi_ok || t3 != napi_float32_array ||
      napi_get_typedarray_info(env, argv[4], &t4, &offsets, &offset, NULL, NULL) != napi_ok || t4 != napi_float32_array)
    return result;
  if (channels < 1 || channels > 4 || offsets != channels || n % channels != 0 || at < 0 || (size_t)at > dst_len ||
      n > dst_len - (size_t)at)
    return result;
  float s[PERIOD], o[PERIOD];
  for (int j = 0; j < PERIOD; j++) {
    s[j] = ((const float *)scale)[j % channels];
    o[j] = ((const float *)offset)[j % channels];
  }
  float *out = (float *)dst + at;
#ifdef HAVE_AVX2_EXPAND
  if (__builtin_cpu_supports("avx2"))
    expand_avx2(out, src, s, o, n);
  else
#endif
    expand_c(out, src, s, o, n);
  napi_get_boolean(env, true, &result);
  return result;
}
