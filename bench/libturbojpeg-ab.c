/*
 * Two TurboJPEG libraries against each other in one process: the same files, already in memory, decoded by the
 * same threads, in blocks that alternate between the libraries (A B B A A B ...) with every thread on the same
 * library at a time. Both libraries meet the same load on the machine, so their CPU times compare where two
 * separate runs, minutes apart, would not. The calls are the fast path's: tjDecompressHeader3, then tjDecompress2
 * into a reused buffer (RGB or grey, TJFLAG_STOPONWARNING), one handle per thread and library.
 *
 *   cc -O2 -std=c11 -pthread -o libturbojpeg-ab bench/libturbojpeg-ab.c -ldl
 *   ./libturbojpeg-ab <library A> <library B> <threads> <file list> [rounds=40] [block=50] [scale denominator=1]
 *
 * <file list> holds one JPEG per line. Prints one JSON line: images per library, each library's CPU ms per image
 * (the threads' own CPU time) and wall ms per image, and B's CPU time over A's. Library B opened after A under
 * the same soname is A again (dlopen answers with the library already open): give one of them by path.
 * Two copies of one library (cp to two paths) show what the method itself leaves: a ratio near 1.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void *tjhandle;
enum { TJPF_RGB = 0, TJPF_GRAY = 6, TJCS_GRAY = 2, TJCS_CMYK = 3, TJCS_YCCK = 4, TJFLAG_STOPONWARNING = 8192 };
#define MAX_THREADS 64

typedef struct {
  tjhandle (*init)(void);
  int (*header)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
  int (*decompress)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
  int (*destroy)(tjhandle);
} Api;

typedef struct {
  unsigned char *data;
  size_t len;
} File;

static Api api[2];
static File *files;
static size_t file_count;
static int threads, rounds = 40, block = 50, denom = 1;
static pthread_barrier_t barrier;
static double cpu_ms[2][MAX_THREADS], wall_ms[2];
static long decoded[2][MAX_THREADS];

static double now_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *lane(void *arg) {
  int id = (int)(long)arg;
  tjhandle tj[2] = {api[0].init(), api[1].init()};
  unsigned char *pixels = NULL;
  size_t cap = 0;
  for (int r = 0; r < rounds; r++) {
    for (int half = 0; half < 2; half++) {
      int lib = (r & 1) ? 1 - half : half;
      pthread_barrier_wait(&barrier);
      double wall0 = now_ms(CLOCK_MONOTONIC), cpu0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
      for (int k = 0; k < block; k++) {
        const File *f = &files[((size_t)(r * block + k) * threads + id) % file_count];
        int w, h, subsamp, cs;
        if (api[lib].header(tj[lib], f->data, f->len, &w, &h, &subsamp, &cs) != 0 || cs == TJCS_CMYK || cs == TJCS_YCCK) continue;
        int c = cs == TJCS_GRAY ? 1 : 3, sw = (w + denom - 1) / denom, sh = (h + denom - 1) / denom;
        size_t need = (size_t)sw * sh * c;
        if (need > cap) {
          free(pixels);
          pixels = malloc(need);
          cap = pixels ? need : 0;
          if (!pixels) continue;
        }
        if (api[lib].decompress(tj[lib], f->data, f->len, pixels, sw, 0, sh, c == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) == 0)
          decoded[lib][id]++;
      }
      cpu_ms[lib][id] += now_ms(CLOCK_THREAD_CPUTIME_ID) - cpu0;
      pthread_barrier_wait(&barrier);
      if (id == 0) wall_ms[lib] += now_ms(CLOCK_MONOTONIC) - wall0;
    }
  }
  free(pixels);
  api[0].destroy(tj[0]);
  api[1].destroy(tj[1]);
  return NULL;
}

static int open_api(const char *file, Api *a) {
  void *lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "libturbojpeg-ab: %s\n", dlerror());
    return 0;
  }
  *(void **)&a->init = dlsym(lib, "tjInitDecompress");
  *(void **)&a->header = dlsym(lib, "tjDecompressHeader3");
  *(void **)&a->decompress = dlsym(lib, "tjDecompress2");
  *(void **)&a->destroy = dlsym(lib, "tjDestroy");
  if (!a->init || !a->header || !a->decompress || !a->destroy) {
    fprintf(stderr, "libturbojpeg-ab: %s lacks the TurboJPEG API\n", file);
    return 0;
  }
  return 1;
}

static int read_files(const char *list) {
  FILE *f = fopen(list, "r");
  if (!f) return 0;
  size_t cap = 0;
  char path[4096];
  while (fgets(path, sizeof path, f)) {
    path[strcspn(path, "\n")] = 0;
    FILE *g = path[0] ? fopen(path, "rb") : NULL;
    if (!g) continue;
    fseek(g, 0, SEEK_END);
    long len = ftell(g);
    fseek(g, 0, SEEK_SET);
    if (file_count == cap) {
      cap = cap ? cap * 2 : 1024;
      files = realloc(files, cap * sizeof *files);
    }
    File *file = &files[file_count];
    file->data = malloc(len > 0 ? (size_t)len : 1);
    file->len = len > 0 && fread(file->data, 1, (size_t)len, g) == (size_t)len ? (size_t)len : 0;
    fclose(g);
    if (file->len) file_count++;
    else free(file->data);
  }
  fclose(f);
  return file_count > 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: libturbojpeg-ab <library A> <library B> <threads> <file list> [rounds] [block] [scale denominator]\n");
    return 2;
  }
  if (!open_api(argv[1], &api[0]) || !open_api(argv[2], &api[1])) return 1;
  if (api[0].decompress == api[1].decompress) {
    fprintf(stderr, "libturbojpeg-ab: %s and %s open the same library (one soname): give one by path\n", argv[1], argv[2]);
    return 1;
  }
  threads = atoi(argv[3]);
  if (threads < 1 || threads > MAX_THREADS) threads = threads < 1 ? 1 : MAX_THREADS;
  if (argc > 5) rounds = atoi(argv[5]) > 0 ? atoi(argv[5]) : rounds;
  if (argc > 6) block = atoi(argv[6]) > 0 ? atoi(argv[6]) : block;
  if (argc > 7) denom = atoi(argv[7]) == 2 || atoi(argv[7]) == 4 || atoi(argv[7]) == 8 ? atoi(argv[7]) : 1;
  if (!read_files(argv[4])) {
    fprintf(stderr, "libturbojpeg-ab: no files read from %s\n", argv[4]);
    return 1;
  }
  pthread_barrier_init(&barrier, NULL, (unsigned)threads);
  pthread_t ids[MAX_THREADS];
  for (long i = 0; i < threads; i++) pthread_create(&ids[i], NULL, lane, (void *)i);
  for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  double cpu[2] = {0, 0};
  long images[2] = {0, 0};
  for (int lib = 0; lib < 2; lib++) {
    for (int i = 0; i < threads; i++) {
      cpu[lib] += cpu_ms[lib][i];
      images[lib] += decoded[lib][i];
    }
  }
  if (!images[0] || !images[1]) {
    fprintf(stderr, "libturbojpeg-ab: nothing decoded\n");
    return 1;
  }
  printf("{\"images\":[%ld,%ld],\"cpuMsPerImage\":[%.4f,%.4f],\"wallMsPerImage\":[%.4f,%.4f],\"cpuRatioBA\":%.4f}\n", images[0],
         images[1], cpu[0] / images[0], cpu[1] / images[1], wall_ms[0] / images[0], wall_ms[1] / images[1],
         (cpu[1] / images[1]) / (cpu[0] / images[0]));
  return 0;
}
