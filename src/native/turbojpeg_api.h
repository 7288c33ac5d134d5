/*
 * The part of libjpeg-turbo's TurboJPEG API (its stable 1.x-2.x C ABI, still exported by 3.x) that the decoder
 * uses, declared here so that building the addon needs no development package: the library is opened at run
 * time (turbojpeg_load.c), from an npm package, a given path or the system.
 */
#ifndef IMGSTREAM_TURBOJPEG_API_H
#define IMGSTREAM_TURBOJPEG_API_H

typedef void *tjhandle;
typedef struct {
  int num;
  int denom;
} tjscalingfactor;

/* The size of an image dimension scaled by a factor, rounded up (as libjpeg computes it). */
#define TJSCALED(dimension, factor) (((dimension) * (factor).num + (factor).denom - 1) / (factor).denom)

enum { TJCS_RGB = 0, TJCS_YCbCr = 1, TJCS_GRAY = 2, TJCS_CMYK = 3, TJCS_YCCK = 4 };
enum { TJPF_RGB = 0, TJPF_GRAY = 6 };
#define TJFLAG_STOPONWARNING 8192

/* The functions, as pointers filled from the opened library. */
typedef struct {
  tjhandle (*InitDecompress)(void);
  int (*DecompressHeader3)(tjhandle handle, const unsigned char *jpeg, unsigned long size, int *width, int *height,
                           int *subsampling, int *colorspace);
  int (*Decompress2)(tjhandle handle, const unsigned char *jpeg, unsigned long size, unsigned char *out, int width,
                     int pitch, int height, int pixel_format, int flags);
  /* Optional (NULL when the library lacks it): the planes of a YCbCr JPEG, no upsampling, no colour conversion. */
  int (*DecompressToYUVPlanes)(tjhandle handle, const unsigned char *jpeg, unsigned long size, unsigned char **planes, int width,
                               int *strides, int height, int flags);
  int (*Destroy)(tjhandle handle);
} TurboJpeg;

/* The opened library's functions, or NULL while none is open in this process. */
const TurboJpeg *turbojpeg(void);

#endif
