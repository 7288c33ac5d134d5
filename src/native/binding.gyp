{
  "targets": [
    {
      "target_name": "jpeg_turbo",
      "sources": ["jpeg_turbo.c"],
      "cflags": ["-O3", "-std=c11"],
      "libraries": ["-lturbojpeg"]
    }
  ]
}
