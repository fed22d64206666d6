// Whole-file reads and crash-safe writes, shared by every reader and writer in regrad.
#pragma once
#include <string>

namespace rg {

// The file's bytes; std::runtime_error naming the path when it cannot be opened.
std::string read_file(const std::string& path);

// Writes `bytes` so that a crash at any instant leaves the old file or the new one, never a mix:
// a temporary file beside the target, fsync, rename over the target, fsync the directory.
// Creates missing parent directories.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace rg
