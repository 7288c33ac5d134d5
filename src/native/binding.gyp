{
  "targets": [
    {
      "target_name": "imgstream",
      "sources": ["jpeg_turbo.c", "augment_pass.c", "read_file.c", "turbojpeg_load.c", "levels.c"],
      "cflags": ["-O3", "-std=c11", "-ffp-contract=off", "-pthread"],
      "conditions": [["OS=='linux'", {"libraries": ["-ldl", "-pthread"]}]]
    }
  ]
}
