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

std::string BaseType(const std::string& type) {
  auto end = type.find_first_of("( ");
  return type.substr(0, end);
}

bool IsTextOrBlob(const std::string& type) {
  static const std::set<std::string> kLobs = {"tinytext", "text", "mediumtext", "longtext",
                                              "tinyblob", "blob", "mediumblob", "longblob"};
  return kLobs.count(BaseType(type)) > 0;
}

std::string EffectiveCharset(const Column& c, const Table& t) {
  if (!c.charset.empty()) return c.charset;
  bool textual = c.type.find("char") != std::string::npos || c.type.find("text") != std::string::npos ||
                 c.type.rfind("enum(", 0) == 0 || c.type.rfind("set(", 0) == 0;
  return textual ? t.charset : std::string();
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

// True when text in charset `a` may hold characters charset `b` cannot.
bool LosesCharacters(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty() || a == b || b == "binary") return false;
  static const std::set<std::string> kUnicodeFull = {"utf8mb4", "utf16", "utf16le", "utf32"};
  static const std::set<std::string> kBmp = {"utf8mb3", "utf8", "ucs2"};
  if (kUnicodeFull.count(a)) return !kUnicodeFull.count(b);
  if (kBmp.count(a)) return !kUnicodeFull.count(b) && !kBmp.count(b);
  if (a == "ascii") return false;  // every charset holds ASCII
  return !kUnicodeFull.count(b) && !kBmp.count(b);  // a single-byte charset into another one
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
      } else if (c.generation != now->generation && (c.generation.empty() || now->generation.empty())) {
        add("DROPS_DATA", Severity::kWarning, name, c.name,
            fmt::format("column {}.{} changes between stored values and a generated expression; its values are "
                        "replaced",
                        name, c.name));
      } else if (std::string a = EffectiveCharset(c, old), b = EffectiveCharset(*now, t); LosesCharacters(a, b)) {
        add("DROPS_DATA", Severity::kWarning, name, c.name,
            fmt::format("column {}.{} changes from {} to {}; characters {} cannot hold are lost", name, c.name, a, b,
                        b));
      }
      if (now && c.nullable && !now->nullable && now->generation.empty()) {
        add("NOT_NULL_ADDED", Severity::kWarning, name, c.name,
            fmt::format("column {}.{} becomes NOT NULL: existing NULL values would make the deploy fail", name,
                        c.name));
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
