#include "schema/model.h"

#include <fmt/format.h>

#include "mysql/protocol.h"

namespace scion::schema {
using mysql::QuoteIdentifier;
using mysql::QuoteString;

const Column* Table::FindColumn(const std::string& n) const {
  for (const auto& c : columns) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

bool Table::SameAs(const Table& o) const {
  return name == o.name && columns == o.columns && indexes == o.indexes && checks == o.checks &&
         foreign_keys == o.foreign_keys && engine == o.engine && charset == o.charset && collation == o.collation &&
         row_format == o.row_format && key_block_size == o.key_block_size && comment == o.comment &&
         partitioning == o.partitioning;
}

bool Schema::SameAs(const Schema& o) const {
  if (tables.size() != o.tables.size() || views != o.views) return false;
  for (const auto& [name, t] : tables) {
    auto it = o.tables.find(name);
    if (it == o.tables.end() || !t.SameAs(it->second)) return false;
  }
  return true;
}

std::string_view IndexKindName(IndexKind kind) {
  switch (kind) {
    case IndexKind::kPrimary: return "PRIMARY KEY";
    case IndexKind::kUnique: return "UNIQUE KEY";
    case IndexKind::kIndex: return "KEY";
    case IndexKind::kFulltext: return "FULLTEXT KEY";
    case IndexKind::kSpatial: return "SPATIAL KEY";
  }
  return "KEY";
}

std::string ColumnDefinition(const Column& c) {
  std::string s = QuoteIdentifier(c.name) + " " + c.type;
  if (!c.charset.empty()) s += " CHARACTER SET " + c.charset;
  if (!c.collation.empty()) s += " COLLATE " + c.collation;
  if (!c.generation.empty()) {
    s += fmt::format(" GENERATED ALWAYS AS ({}) {}", c.generation, c.stored ? "STORED" : "VIRTUAL");
  } else {
    if (!c.nullable) s += " NOT NULL";
    if (c.default_sql) s += " DEFAULT " + *c.default_sql;
    if (!c.on_update.empty()) s += " ON UPDATE " + c.on_update;
    if (c.auto_increment) s += " AUTO_INCREMENT";
  }
  if (c.invisible) s += " INVISIBLE";
  if (!c.comment.empty()) s += " COMMENT " + QuoteString(c.comment);
  if (!c.check.empty()) s += " CHECK (" + c.check + ")";
  return s;
}

std::string IndexDefinition(const Index& i) {
  std::string s(IndexKindName(i.kind));
  if (i.kind != IndexKind::kPrimary) s += " " + QuoteIdentifier(i.name);
  s += " (";
  for (std::size_t k = 0; k < i.parts.size(); ++k) {
    const auto& p = i.parts[k];
    if (k) s += ",";
    s += QuoteIdentifier(p.column);
    if (p.prefix) s += fmt::format("({})", p.prefix);
    if (p.desc) s += " DESC";
  }
  s += ")";
  if (!i.comment.empty()) s += " COMMENT " + QuoteString(i.comment);
  if (i.ignored) s += " IGNORED";
  return s;
}

std::string ViewCreateSql(const View& v, bool or_replace) {
  std::string s = or_replace ? "CREATE OR REPLACE" : "CREATE";
  s += fmt::format(" ALGORITHM={} SQL SECURITY {} VIEW {} AS {}", v.algorithm, v.security, QuoteIdentifier(v.name),
                   v.definition);
  if (v.check_option == "CASCADED") s += " WITH CASCADED CHECK OPTION";
  if (v.check_option == "LOCAL") s += " WITH LOCAL CHECK OPTION";
  return s;
}

}  // namespace scion::schema
