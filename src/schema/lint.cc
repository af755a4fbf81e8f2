#include "schema/lint.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "schema/diff.h"

namespace scion::schema {
namespace {

bool SupportedCharset(const std::string& cs) {
  static const std::set<std::string> kOk = {"utf8mb4", "utf8mb3", "utf8", "ascii", "binary", "latin1"};
  return cs.empty() || kOk.count(cs) > 0;
}

bool IsTextOrBlob(const std::string& type) {
  return type.find("text") != std::string::npos || type.find("blob") != std::string::npos;
}

// A key online schema changes can copy by: unique, every column NOT NULL, whole (no prefix),
// not TEXT/BLOB.
bool UsableUniqueKey(const Table& t, const Index& i) {
  if (i.kind != IndexKind::kPrimary && i.kind != IndexKind::kUnique) return false;
  for (const auto& p : i.parts) {
    const Column* c = t.FindColumn(p.column);
    if (!c || c->nullable || p.prefix || IsTextOrBlob(c->type)) return false;
  }
  return true;
}

}  // namespace

bool HasErrors(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::kError; });
}

std::vector<Finding> Lint(const Schema& from, const Schema& to) {
  std::vector<Finding> out;
  auto add = [&](const char* code, Severity sev, const std::string& table, const std::string& column,
                 std::string message) { out.push_back({code, sev, table, column, std::move(message)}); };
  for (const auto& object : to.unsupported) {
    auto space = object.find(' ');
    add("UNSUPPORTED_OBJECT", Severity::kError, object.substr(space + 1), "",
        fmt::format("{} is not supported by deploy requests (triggers, stored routines and events are not copied "
                    "to branches nor deployed); manage it outside Scion or remove it",
                    object));
  }
  for (const auto& [name, t] : to.tables) {
    for (const auto& fk : t.foreign_keys) {
      add("FOREIGN_KEY", Severity::kError, name, "",
          fmt::format("table {} declares foreign key {}: foreign key constraints are not supported; keep referential "
                      "integrity in the application",
                      name, fk.name));
    }
    bool usable = std::any_of(t.indexes.begin(), t.indexes.end(),
                              [&](const auto& kv) { return UsableUniqueKey(t, kv.second); });
    if (!usable) {
      add("NO_UNIQUE_KEY", Severity::kError, name, "",
          fmt::format("table {} has no primary key or unique key on NOT NULL, non-prefix, non-TEXT/BLOB columns; "
                      "online schema changes need one",
                      name));
    }
    if (t.engine != "InnoDB") {
      add("UNSUPPORTED_ENGINE", Severity::kError, name, "",
          fmt::format("table {} uses the {} engine; only InnoDB is supported", name, t.engine));
    }
    if (!SupportedCharset(t.charset)) {
      add("UNSUPPORTED_CHARSET", Severity::kWarning, name, "",
          fmt::format("table {} uses the {} character set; use utf8mb4", name, t.charset));
    }
    for (const auto& c : t.columns) {
      if (!SupportedCharset(c.charset)) {
        add("UNSUPPORTED_CHARSET", Severity::kWarning, name, c.name,
            fmt::format("column {}.{} uses the {} character set; use utf8mb4", name, c.name, c.charset));
      }
    }
  }
  for (const auto& [name, old] : from.tables) {
    auto it = to.tables.find(name);
    if (it == to.tables.end()) {
      add("DROPS_DATA", Severity::kWarning, name, "", fmt::format("table {} is dropped with all its rows", name));
      continue;
    }
    const Table& t = it->second;
    for (const auto& c : old.columns) {
      const Column* now = t.FindColumn(c.name);
      if (!now) {
        add("DROPS_DATA", Severity::kWarning, name, c.name,
            fmt::format("column {}.{} is dropped with its values", name, c.name));
      } else if (IsNarrowing(c.type, now->type)) {
        add("DROPS_DATA", Severity::kWarning, name, c.name,
            fmt::format("column {}.{} changes from {} to {}; values that do not fit are lost or refused", name, c.name,
                        c.type, now->type));
      }
    }
    for (const auto& [iname, idx] : t.indexes) {
      if (idx.kind != IndexKind::kPrimary && idx.kind != IndexKind::kUnique) continue;
      auto was = old.indexes.find(iname);
      if (was != old.indexes.end() && was->second == idx) continue;
      // A unique key over exactly the same columns as one that existed adds no constraint.
      bool existed = std::any_of(old.indexes.begin(), old.indexes.end(), [&](const auto& kv) {
        return (kv.second.kind == IndexKind::kPrimary || kv.second.kind == IndexKind::kUnique) &&
               kv.second.parts == idx.parts;
      });
      if (existed || idx.parts.empty()) continue;
      add("UNIQUE_KEY_ADDED", Severity::kWarning, name, idx.parts[0].column,
          fmt::format("a unique key on {}({}) is added: existing duplicate values would make the deploy fail", name,
                      idx.parts[0].column));
    }
  }
  std::sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.code, a.table, a.column) < std::tie(b.code, b.table, b.column);
  });
  return out;
}

}  // namespace scion::schema
