/*
 * Augmentation's pixel pass for RGB without rotation/shear/zoom/translation (the common training recipe:
 * random resized crop, flips, colour jitter, erasing), the native twin of `writeShiftedRgb` in
 * workers/augment.ts. Same arithmetic in the same order, in doubles, so both write the same values:
 * a test compares them.
 *
 * shiftedRgb(out, src, srcWidth, srcHeight, tone, params)
 *   out     Uint8Array | Float32Array, params[W] x params[H] x 3
 *   src     Uint8Array, srcWidth x srcHeight x 3 (the decoded stage image)
 *   tone    Float32Array(256): shift, brightness and contrast of each 8-bit value
 *   params  Float64Array, laid out as abi.h's SHIFTED_PARAM_* indices
 * meanLuminance(src, channels, lut) -> number
 *   lut     Float64Array(256); the mean of 0.299 R + 0.587 G + 0.114 B over the looked-up pixels (or of
 *           the first channel when channels < 3), summed in the same order as the JS version
 */
#include <math.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "abi.h"

/* mapIndex of workers/augment.ts: an index outside [0, n) as the fill mode maps it; -1 for constant fill. */
static long map_index(long i, long n, int mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case 1:
      return i < 0 ? 0 : n - 1;
    case 2: {
      long period = 2 * n, m = ((i % period) + period) % period;
      return m < n ? m : period - 1 - m;
    }
    case 3:
      return ((i % n) + n) % n;
    default:
      return -1;
  }
}

static inline double clamp255(double v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

/* Math.round clamped to [0, 255], without a call to floor: for 0.5 <= v <= 255, v + 0.5 truncated is exact
 * (the one double where the sum rounds up to the next integer, 0.49999999999999994, is below 0.5). */
static inline unsigned char round_u8(double v) {
  v = v < 255 ? v : 255;
  int q = (int)(v + 0.5);
  return (unsigned char)(v >= 0.5 ? q : 0);
}

static napi_value undefined_value(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

static int typed(napi_env env, napi_value value, napi_typedarray_type *type, size_t *length, void **data) {
  return napi_get_typedarray_info(env, value, type, length, data, NULL, NULL) == napi_ok;
}

napi_value imgstream_shifted_rgb(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_type_error(env, NULL, "shiftedRgb: expected 6 arguments");
    return NULL;
  }
  napi_typedarray_type out_type, src_type, tone_type, params_type;
  size_t out_len, src_len, tone_len, params_len;
  void *out_data, *src_data, *tone_data, *params_data;
  int32_t src_w = 0, src_h = 0;
  if (!typed(env, argv[0], &out_type, &out_len, &out_data) || !typed(env, argv[1], &src_type, &src_len, &src_data) ||
      !typed(env, argv[4], &tone_type, &tone_len, &tone_data) || !typed(env, argv[5], &params_type, &params_len, &params_data) ||
      napi_get_value_int32(env, argv[2], &src_w) != napi_ok || napi_get_value_int32(env, argv[3], &src_h) != napi_ok) {
    napi_throw_type_error(env, NULL, "shiftedRgb: bad argument types");
    return NULL;
  }
  const double *p = params_data;
  if ((out_type != napi_uint8_array && out_type != napi_float32_array) || src_type != napi_uint8_array ||
      tone_type != napi_float32_array || tone_len != 256 || params_type != napi_float64_array || params_len < SHIFTED_PARAM_COUNT) {
    napi_throw_type_error(env, NULL, "shiftedRgb: bad argument types");
    return NULL;
  }
  long W = (long)p[SHIFTED_PARAM_WIDTH], H = (long)p[SHIFTED_PARAM_HEIGHT];
  if (W < 1 || H < 1 || src_w < 1 || src_h < 1 || (size_t)(W * H * 3) != out_len || (size_t)src_w * src_h * 3 > src_len) {
    napi_throw_range_error(env, NULL, "shiftedRgb: sizes do not match the arrays");
    return NULL;
  }
  long *columns = malloc(sizeof(long) * (size_t)W);
  if (!columns) {
    napi_throw_error(env, NULL, "shiftedRgb: out of memory");
    return NULL;
  }
  int mode = (int)p[SHIFTED_PARAM_FILL_MODE];
  int flip_h = p[SHIFTED_PARAM_FLIP_H] != 0, flip_v = p[SHIFTED_PARAM_FLIP_V] != 0, gray = p[SHIFTED_PARAM_GRAY] != 0, has_twist = p[SHIFTED_PARAM_HAS_TWIST] != 0;
  long window_left = (long)p[SHIFTED_PARAM_WINDOW_LEFT], window_top = (long)p[SHIFTED_PARAM_WINDOW_TOP];
  for (long x = 0; x < W; x++) {
    long sx = x + window_left;
    if (flip_h) sx = src_w - 1 - sx;
    long ix = map_index(sx, src_w, mode);
    columns[x] = ix < 0 ? -1 : ix * 3;
  }
  const double *t = p + SHIFTED_PARAM_TWIST, *scale = p + SHIFTED_PARAM_SCALE, *offset = p + SHIFTED_PARAM_OFFSET;
  const float *lut = tone_data;
  const unsigned char *src = src_data;
  double fill = p[SHIFTED_PARAM_FILL], erase_value = p[SHIFTED_PARAM_ERASE_VALUE];
  long erase_top = (long)p[SHIFTED_PARAM_ERASE_TOP], erase_left = (long)p[SHIFTED_PARAM_ERASE_LEFT];
  long erase_bottom = erase_top + (long)p[SHIFTED_PARAM_ERASE_HEIGHT], erase_right = erase_left + (long)p[SHIFTED_PARAM_ERASE_WIDTH];
  unsigned char *out8 = out_type == napi_uint8_array ? out_data : NULL;
  float *out32 = out_type == napi_float32_array ? out_data : NULL;
  size_t o = 0;
  for (long y = 0; y < H; y++) {
    long sy = y + window_top;
    if (flip_v) sy = src_h - 1 - sy;
    long iy = map_index(sy, src_h, mode);
    long row_base = iy < 0 ? -1 : iy * src_w * 3;
    int erase_row = y >= erase_top && y < erase_bottom;
    for (long x = 0; x < W; x++, o += 3) {
      double r, g, b;
      if (erase_row && x >= erase_left && x < erase_right) {
        r = g = b = erase_value;
      } else {
        long col = columns[x];
        if (row_base < 0 || col < 0) {
          r = g = b = fill;
        } else {
          const unsigned char *s = src + row_base + col;
          r = lut[s[0]];
          g = lut[s[1]];
          b = lut[s[2]];
        }
        if (has_twist) {
          double r2 = t[0] * r + t[1] * g + t[2] * b;
          double g2 = t[3] * r + t[4] * g + t[5] * b;
          double b2 = t[6] * r + t[7] * g + t[8] * b;
          r = clamp255(r2);
          g = clamp255(g2);
          b = clamp255(b2);
        }
        if (gray) r = g = b = 0.299 * r + 0.587 * g + 0.114 * b;
      }
      if (out8) {
        out8[o] = round_u8(r);
        out8[o + 1] = round_u8(g);
        out8[o + 2] = round_u8(b);
      } else {
        out32[o] = (float)(r * scale[0] + offset[0]);
        out32[o + 1] = (float)(g * scale[1] + offset[1]);
        out32[o + 2] = (float)(b * scale[2] + offset[2]);
      }
    }
  }
  free(columns);
  return undefined_value(env);
}

napi_value imgstream_mean_luminance(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_typedarray_type src_type, lut_type;
  size_t src_len, lut_len;
  void *src_data, *lut_data;
  int32_t channels = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || !typed(env, argv[0], &src_type, &src_len, &src_data) ||
      napi_get_value_int32(env, argv[1], &channels) != napi_ok || !typed(env, argv[2], &lut_type, &lut_len, &lut_data) ||
      src_type != napi_uint8_array || lut_type != napi_float64_array || lut_len != 256 || channels < 1 || channels > 4) {
    napi_throw_type_error(env, NULL, "meanLuminance: expected (Uint8Array, channels 1-4, Float64Array(256))");
    return NULL;
  }
  const unsigned char *src = src_data;
  const double *lut = lut_data;
  size_t n = src_len;
  double mean;
  if (channels < 3) {
    double sum = 0;
    for (size_t i = 0; i < n; i += channels) sum += lut[src[i]];
    mean = sum / ((double)n / channels);
  } else {
    double r = 0, g = 0, b = 0;
    for (size_t i = 0; i + 2 < n; i += channels) {
      r += lut[src[i]];
      g += lut[src[i + 1]];
      b += lut[src[i + 2]];
    }
    mean = (0.299 * r + 0.587 * g + 0.114 * b) / ((double)n / channels);
  }
  napi_value v;
  napi_create_double(env, mean, &v);
  return v;
}
