/*
 * One file read as one task on libuv's thread pool: open, fstat, read into the caller's buffer, close. Node's
 * promise API takes a round trip through the pool (and a promise) for each of those steps; a decode worker
 * reading every sample pays that per file.
 *
 * readInto(path, buffer) -> Promise<number>
 *   resolves with the file's size: the bytes are in `buffer` when it fits, else nothing was kept and the
 *   caller retries with a buffer of that size (or refuses the file from that size); -1 when a regular file
 *   that reports a size of 0 (procfs) outgrows the buffer, for the caller's own bounded read; rejects with an
 *   Error carrying `code` (the errno name, as Node names it) and `syscall`, or `code` ERR_NOT_REGULAR_FILE for
 *   anything that is not a regular file (a FIFO, a device, a socket), whose bytes are never read.
 *
 * Only regular files are read: the file is opened with O_NONBLOCK, so that a FIFO's open returns at once
 * instead of waiting for a writer, and fstat decides before a byte is read. Every read ends: at the buffer's
 * end, or at the size fstat gave.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref;
  char *path;
  unsigned char *data;
  size_t capacity;
  size_t size;
  int overflow;
  int error;
  const char *syscall;
  /* Set instead of `error` when the file is not a regular one: what it is, in words. */
  const char *not_regular;
} ReadTask;

static const char *file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

static void read_execute(napi_env env, void *arg) {
  (void)env;
  ReadTask *t = arg;
  if (t->error != 0) return;
  int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    t->error = errno;
    t->syscall = "open";
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    t->error = errno;
    t->syscall = "fstat";
  } else if (S_ISDIR(st.st_mode)) {
    t->error = EISDIR;
    t->syscall = "read";
  } else if (!S_ISREG(st.st_mode)) {
    t->not_regular = file_kind(st.st_mode);
  } else if ((size_t)st.st_size > t->capacity) {
    /* Too large for the buffer: its size, and not a byte read (the caller retries or refuses it). */
    t->size = (size_t)st.st_size;
  } else {
    size_t length = 0;
    for (;;) {
      if (length == t->capacity) {
        /* A file exactly the buffer's size is whole; a larger one reports its size for a retry with a larger
         * buffer; one that says it is smaller (procfs reports 0) is left to the caller's bounded read. */
        if ((size_t)st.st_size == length) break;
        t->size = (size_t)st.st_size > length ? (size_t)st.st_size : 0;
        t->overflow = (size_t)st.st_size < length;
        close(fd);
        return;
      }
      ssize_t n = read(fd, t->data + length, t->capacity - length);
      if (n < 0) {
        if (errno == EINTR) continue;
        t->error = errno;
        t->syscall = "read";
        break;
      }
      if (n == 0) break;
      length += (size_t)n;
    }
    t->size = length;
  }
  close(fd);
}

static const char *errno_name(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case ENOTDIR: return "ENOTDIR";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EIO: return "EIO";
    case EFBIG: return "EFBIG";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EAGAIN: return "EAGAIN";
    case EOVERFLOW: return "EOVERFLOW";
    default: return "UNKNOWN";
  }
}

static void read_complete(napi_env env, napi_status status, void *arg) {
  ReadTask *t = arg;
  if (status != napi_ok && t->error == 0) {
    t->error = ECANCELED;
    t->syscall = "read";
  }
  if (t->error == 0 && t->not_regular != NULL) {
    char text[128];
    snprintf(text, sizeof text, "not a regular file (%s): only regular files are read", t->not_regular);
    napi_value message, code, err;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, "ERR_NOT_REGULAR_FILE", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, message, &err);
    napi_reject_deferred(env, t->deferred, err);
  } else if (t->error == 0) {
    napi_value size;
    napi_create_double(env, t->overflow ? -1 : (double)t->size, &size);
    napi_resolve_deferred(env, t->deferred, size);
  } else {
    const char *name = errno_name(t->error);
    char text[1024 + 64];
    snprintf(text, sizeof text, "%s: %s, %s '%.900s'", name, strerror(t->error), t->syscall, t->path);
    napi_value message, code, syscall, err;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, t->syscall, NAPI_AUTO_LENGTH, &syscall);
    napi_create_error(env, code, message, &err);
    napi_set_named_property(env, err, "syscall", syscall);
    napi_reject_deferred(env, t->deferred, err);
  }
  napi_delete_reference(env, t->buffer_ref);
  napi_delete_async_work(env, t->work);
  free(t->path);
  free(t);
}

napi_value imgstream_read_into(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_typedarray_type type;
  size_t capacity, path_len;
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &path_len) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &type, &capacity, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "readInto: expected (path string, Uint8Array)");
    return NULL;
  }
  ReadTask *t = calloc(1, sizeof *t);
  char *path = malloc(path_len + 1);
  if (!t || !path) {
    free(t);
    free(path);
    napi_throw_error(env, NULL, "readInto: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], path, path_len + 1, &path_len);
  t->path = path;
  t->data = data;
  t->capacity = capacity;
  /* A NUL byte would end the name open() sees: the file opened would not be the one named. */
  if (strlen(path) != path_len) {
    t->error = EINVAL;
    t->syscall = "open";
  }
  napi_value promise, name;
  napi_create_promise(env, &t->deferred, &promise);
  napi_create_reference(env, argv[1], 1, &t->buffer_ref);
  napi_create_string_utf8(env, "imgstream.readInto", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, read_execute, read_complete, t, &t->work);
  napi_queue_async_work(env, t->work);
  return promise;
}

/* Hands the allocator's free pages back to the system (glibc: in every thread's arena). Returns whether it
 * could. */
napi_value imgstream_trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
#if defined(__GLIBC__)
  napi_get_boolean(env, malloc_trim(0) >= 0, &v);
#else
  napi_get_boolean(env, false, &v);
#endif
  return v;
}
