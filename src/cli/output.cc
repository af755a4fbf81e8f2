#include "cli/output.h"

#include <fmt/format.h>

#include <algorithm>

namespace scion::cli {
using json = nlohmann::json;

Result<Format> ParseFormat(const std::string& name) {
  if (name == "human") return Format::kHuman;
  if (name == "json") return Format::kJson;
  if (name == "csv") return Format::kCsv;
  return MakeError(ErrorCode::kInvalidArgument, fmt::format("unknown format \"{}\"", name),
                   "use --format human, json or csv");
}

std::string CellText(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  return value.dump();
}

namespace {

json Lookup(const json& object, const std::string& field) {
  const json* cur = &object;
  std::size_t start = 0;
  while (true) {
    auto dot = field.find('.', start);
    std::string key = field.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
    if (dot == std::string::npos) return *cur;
    start = dot + 1;
  }
}

std::string CsvCell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string Render(const json& objects, const std::vector<Column>& columns, Format format) {
  if (format == Format::kJson) return objects.dump(2) + "\n";
  json rows = objects.is_array() ? objects : json::array({objects});
  std::vector<std::vector<std::string>> cells;
  for (const auto& obj : rows) {
    std::vector<std::string> line;
    for (const auto& c : columns) {
      json v = Lookup(obj, c.field);
      line.push_back(format == Format::kCsv && v.is_null() ? std::string() : CellText(v));
    }
    cells.push_back(std::move(line));
  }
  std::string out;
  if (format == Format::kCsv) {
    auto emit_csv = [&out](const std::vector<std::string>& line) {
      for (std::size_t i = 0; i < line.size(); ++i) {
        if (i > 0) out += ',';
        out += CsvCell(line[i]);
      }
      out += '\n';
    };
    std::vector<std::string> headers;
    for (const auto& c : columns) headers.push_back(c.header);
    emit_csv(headers);
    for (const auto& line : cells) emit_csv(line);
    return out;
  }
  std::vector<std::size_t> width;
  for (const auto& c : columns) width.push_back(c.header.size());
  for (const auto& line : cells) {
    for (std::size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  }
  auto emit = [&](const std::vector<std::string>& line) {
    std::string l;
    for (std::size_t i = 0; i < line.size(); ++i) {
      l += line[i];
      if (i + 1 < line.size()) l += std::string(width[i] - line[i].size() + 2, ' ');
    }
    out += l + "\n";
  };
  std::vector<std::string> headers;
  for (const auto& c : columns) headers.push_back(c.header);
  emit(headers);
  for (const auto& line : cells) emit(line);
  return out;
}

int ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound: return kExitNotFound;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
    case ErrorCode::kFailedPrecondition: return kExitConflict;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied: return kExitUnauthorized;
    case ErrorCode::kUnavailable:
    case ErrorCode::kBackendUnavailable: return kExitUnavailable;
    case ErrorCode::kInvalidArgument: return kExitUsage;
    default: return kExitError;
  }
}

}  // namespace scion::cli
