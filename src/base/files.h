// Small file helpers with error values instead of exceptions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion {

// Reads a whole file.
Result<std::string> ReadFile(const std::filesystem::path& path);

// Writes `content` to `path` atomically (temp file + fsync + rename) with permission `mode`.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, unsigned mode = 0644);

// Creates `path` and its parents with permission `mode` on the last component.
Status MakeDirs(const std::filesystem::path& path, unsigned mode = 0755);

}  // namespace scion
