/*
 * The benchmark's decode-only row: libjpeg-turbo's own full-size decode of files already in memory, one thread
 * per core, through its TurboJPEG API (opened at run time: the library the fast path opened). Nothing else: no DCT
 * scaling, resampling, conversion, file read, ring or batch.
 *
 * decode-only <library> <threads> <list>: <list> holds one file per line. Prints one JSON line: images decoded,
 * files declined (not a JPEG libjpeg-turbo decodes as RGB or grey), wall and CPU milliseconds of the decode (all
 * threads, from the moment every file is in memory), peak RSS.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef void *tjhandle;
enum { TJPF_RGB = 0, TJPF_GRAY = 6, TJCS_GRAY = 2, TJCS_CMYK = 3, TJCS_YCCK = 4, TJFLAG_STOPONWARNING = 8192 };

static tjhandle (*init_decompress)(void);
static int (*decompress_header)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
static int (*decompress)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
static int (*destroy)(tjhandle);

typedef struct {
  unsigned char *data;
  size_t len;
} File;

static File *files;
static size_t file_count;
static atomic_size_t next_file, decoded;

static void *lane(void *arg) {
  (void)arg;
  tjhandle tj = init_decompress();
  unsigned char *pixels = NULL;
  size_t cap = 0;
  for (size_t i = atomic_fetch_add(&next_file, 1); i < file_count; i = atomic_fetch_add(&next_file, 1)) {
    int w, h, subsamp, cs;
    if (decompress_header(tj, files[i].data, files[i].len, &w, &h, &subsamp, &cs) != 0 || cs == TJCS_CMYK || cs == TJCS_YCCK) continue;
    int c = cs == TJCS_GRAY ? 1 : 3;
    size_t need = (size_t)w * h * c;
    if (need > cap) {
      free(pixels);
      pixels = malloc(need);
      cap = pixels ? need : 0;
      if (!pixels) continue;
    }
    if (decompress(tj, files[i].data, files[i].len, pixels, w, 0, h, c == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) == 0)
      atomic_fetch_add(&decoded, 1);
  }
  free(pixels);
  destroy(tj);
  return NULL;
}

static double ms(struct timeval t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; }

static int read_files(const char *list) {
  FILE *f = fopen(list, "r");
  if (!f) return 0;
  size_t cap = 0;
  char path[4096];
  while (fgets(path, sizeof path, f)) {
    path[strcspn(path, "\n")] = 0;
    if (!path[0]) continue;
    FILE *g = fopen(path, "rb");
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
    file_count++;
  }
  fclose(f);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: decode-only <libturbojpeg> <threads> <file list>\n");
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "decode-only: %s\n", dlerror());
    return 1;
  }
  init_decompress = (tjhandle(*)(void))dlsym(lib, "tjInitDecompress");
  decompress_header = (int (*)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *))dlsym(lib, "tjDecompressHeader3");
  decompress = (int (*)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int))dlsym(lib, "tjDecompress2");
  destroy = (int (*)(tjhandle))dlsym(lib, "tjDestroy");
  if (!init_decompress || !decompress_header || !decompress || !destroy) {
    fprintf(stderr, "decode-only: %s lacks the TurboJPEG API\n", argv[1]);
    return 1;
  }
  int threads = atoi(argv[2]);
  if (threads < 1) threads = 1;
  if (!read_files(argv[3])) {
    fprintf(stderr, "decode-only: cannot read %s\n", argv[3]);
    return 1;
  }
  pthread_t *ids = calloc((size_t)threads, sizeof *ids);
  struct rusage r0, r1;
  struct timespec t0, t1;
  getrusage(RUSAGE_SELF, &r0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, lane, NULL);
  for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  getrusage(RUSAGE_SELF, &r1);
  double wall = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  double cpu = ms(r1.ru_utime) - ms(r0.ru_utime) + ms(r1.ru_stime) - ms(r0.ru_stime);
  size_t images = atomic_load(&decoded);
  printf("{\"images\":%zu,\"declined\":%zu,\"wallMs\":%.3f,\"cpuMs\":%.3f,\"peakRssBytes\":%ld}\n", images, file_count - images, wall,
         cpu, r1.ru_maxrss * 1024L);
  return 0;
}
