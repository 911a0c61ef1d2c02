{
  "targets": [
    {
      "target_name": "packet_io",
      "sources": [
        "src/native/addon.cc",
        "src/native/capture.cc",
        "src/native/inject.cc",
        "src/native/scan.cc",
        "src/native/memory.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-std=c++17"],
      "libraries": ["-lpcap"]
    }
  ]
}
