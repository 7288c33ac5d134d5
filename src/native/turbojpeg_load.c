/*
 * Opens libjpeg-turbo's TurboJPEG library at run time, once per process (every thread's addon instance shares
 * it). Which file to try is the JavaScript loader's choice (src/native/load.cjs: an explicit path, the npm
 * package's copy, the system's); this side only opens it and reports the file it got.
 *
 * openTurbojpeg(file) -> null when that file (or an already opened one) provides the API, else why not
 * turbojpegPath() -> the opened library's file, or null
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <node_api.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "turbojpeg_api.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static TurboJpeg api;
static const TurboJpeg *opened;
static char opened_path[4096];

const TurboJpeg *turbojpeg(void) {
  pthread_mutex_lock(&lock);
  const TurboJpeg *t = opened;
  pthread_mutex_unlock(&lock);
  return t;
}

/* NULL on success, else a message in `error`. */
static const char *open_library(const char *file, char *error, size_t size) {
  void *lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(error, size, "%s", dlerror());
    return error;
  }
  TurboJpeg t;
  const char *missing = NULL;
#define SYMBOL(field, name)                                \
  if (!missing && !(*(void **)&t.field = dlsym(lib, name))) \
    missing = name;
  SYMBOL(InitDecompress, "tjInitDecompress")
  SYMBOL(DecompressHeader3, "tjDecompressHeader3")
  SYMBOL(Decompress2, "tjDecompress2")
  SYMBOL(Destroy, "tjDestroy")
#undef SYMBOL
  *(void **)&t.DecompressToYUVPlanes = dlsym(lib, "tjDecompressToYUVPlanes");
  if (missing) {
    snprintf(error, size, "%s: no %s (not libjpeg-turbo's TurboJPEG library)", file, missing);
    dlclose(lib);
    return error;
  }
  api = t;
  Dl_info info;
  snprintf(opened_path, sizeof opened_path, "%s", dladdr(*(void **)&t.InitDecompress, &info) && info.dli_fname ? info.dli_fname : file);
  opened = &api;
  return NULL;
}

napi_value imgstream_open_turbojpeg(napi_env env, napi_callback_info info) {
  size_t argc = 1, length;
  napi_value argv[1], result;
  char file[4096], error[4096 + 256];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], file, sizeof file, &length) != napi_ok || length >= sizeof file - 1) {
    napi_throw_type_error(env, NULL, "openTurbojpeg: expected a file name");
    return NULL;
  }
  pthread_mutex_lock(&lock);
  const char *failure = opened ? NULL : open_library(file, error, sizeof error);
  pthread_mutex_unlock(&lock);
  if (failure) napi_create_string_utf8(env, failure, NAPI_AUTO_LENGTH, &result);
  else napi_get_null(env, &result);
  return result;
}

napi_value imgstream_turbojpeg_path(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  pthread_mutex_lock(&lock);
  if (opened) napi_create_string_utf8(env, opened_path, NAPI_AUTO_LENGTH, &result);
  else napi_get_null(env, &result);
  pthread_mutex_unlock(&lock);
  return result;
}
