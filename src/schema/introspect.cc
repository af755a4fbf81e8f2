#include "schema/introspect.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "schema/copy.h"

namespace scion::schema {
namespace {
using mysql::QuoteIdentifier;
using mysql::QuoteString;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Get(const mysql::Row& row, std::size_t i) { return i < row.size() ? row[i].value_or("") : ""; }

// Removes "`schema`." qualifiers from a view definition so views of two schemas compare.
std::string Unqualify(std::string def, const std::string& database) {
  std::string q = QuoteIdentifier(database) + ".";
  for (auto pos = def.find(q); pos != std::string::npos; pos = def.find(q, pos)) def.erase(pos, q.size());
  return def;
}

}  // namespace

std::string CollapseWhitespace(std::string_view s) {
  std::string out;
  bool space = false;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      out += c;
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '`' || c == '"') quote = c;
    if (!quote && std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string NormalizeColumnType(std::string t) {
  // COLUMN_TYPE is already lowercase where it matters; ENUM/SET labels and /*M! */ comments keep
  // their case.
  // Integer display widths carry no meaning (except with ZEROFILL, and tinyint(1), which
  // frameworks read as boolean).
  if (t.find("zerofill") != std::string::npos) return t;
  for (const char* base : {"tinyint", "smallint", "mediumint", "bigint", "int"}) {
    std::string b(base);
    if (t.rfind(b + "(", 0) == 0) {
      auto close = t.find(')');
      if (close == std::string::npos) return t;
      if (b == "tinyint" && t.substr(0, close + 1) == "tinyint(1)") return t;
      return b + t.substr(close + 1);
    }
  }
  return t;
}

Result<Schema> Introspect(mysql::AdminConnection& conn, const std::string& database) {
  Schema s;
  std::string db = QuoteString(database);
  SCION_ASSIGN_OR_RETURN(auto schemata, conn.Query("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                                                   "information_schema.SCHEMATA WHERE SCHEMA_NAME = " + db));
  if (schemata.rows.empty()) {
    return MakeError(ErrorCode::kNotFound, fmt::format("database \"{}\" does not exist on the instance", database));
  }
  s.charset = Get(schemata.rows[0], 0);
  s.collation = Get(schemata.rows[0], 1);

  SCION_ASSIGN_OR_RETURN(auto tables, conn.Query(
      "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT, "
      "(SELECT CHARACTER_SET_NAME FROM information_schema.COLLATIONS c WHERE c.COLLATION_NAME = t.TABLE_COLLATION) "
      "FROM information_schema.TABLES t WHERE TABLE_SCHEMA = " + db));
  std::vector<std::string> partitioned;
  for (const auto& r : tables.rows) {
    if (Get(r, 1) == "VIEW") continue;
    if (Get(r, 1) == "SEQUENCE") {
      s.unsupported.push_back("sequence " + Get(r, 0));
      continue;
    }
    Table t;
    t.name = Get(r, 0);
    t.engine = Get(r, 2);
    t.collation = Get(r, 3);
    t.charset = Get(r, 6);
    t.comment = Get(r, 5);
    // CREATE_OPTIONS lists what was given explicitly: "row_format=DYNAMIC key_block_size=8 partitioned".
    std::string opts = Get(r, 4);
    std::size_t pos = 0;
    while (pos < opts.size()) {
      auto end = opts.find(' ', pos);
      std::string opt = opts.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? opts.size() : end + 1;
      auto eq = opt.find('=');
      std::string key = Lower(opt.substr(0, eq));
      std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
      if (key == "row_format") t.row_format = value;
      if (key == "key_block_size") t.key_block_size = value;
      if (key == "partitioned") partitioned.push_back(t.name);
    }
    s.tables.emplace(t.name, std::move(t));
  }
  for (const auto& r : tables.rows) {
    if (Get(r, 1) != "VIEW") continue;
    View v;
    v.name = Get(r, 0);
    s.views.emplace(v.name, std::move(v));
  }

  SCION_ASSIGN_OR_RETURN(auto cols, conn.Query(
      "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_DEFAULT, IS_NULLABLE, COLUMN_TYPE, CHARACTER_SET_NAME, "
      "COLLATION_NAME, EXTRA, COLUMN_COMMENT, GENERATION_EXPRESSION FROM information_schema.COLUMNS "
      "WHERE TABLE_SCHEMA = " + db + " ORDER BY TABLE_NAME, ORDINAL_POSITION"));
  for (const auto& r : cols.rows) {
    auto it = s.tables.find(Get(r, 0));
    if (it == s.tables.end()) continue;  // a view's columns
    Table& t = it->second;
    Column c;
    c.name = Get(r, 1);
    c.nullable = Get(r, 3) == "YES";
    c.type = NormalizeColumnType(Get(r, 4));
    std::string charset = Get(r, 5), collation = Get(r, 6);
    if (!collation.empty() && collation != t.collation) {
      c.charset = charset;
      c.collation = collation;
    }
    std::string extra = Get(r, 7);
    std::string lextra = Lower(extra);
    c.auto_increment = lextra.find("auto_increment") != std::string::npos;
    c.invisible = lextra.find("invisible") != std::string::npos;
    if (auto on = lextra.find("on update "); on != std::string::npos) {
      c.on_update = extra.substr(on + 10);
      if (auto sp = c.on_update.find(' '); sp != std::string::npos) c.on_update.resize(sp);
    }
    c.comment = Get(r, 8);
    if (r[9]) {
      c.generation = *r[9];
      c.stored = lextra.find("stored") != std::string::npos || lextra.find("persistent") != std::string::npos;
    } else if (r[2]) {
      c.default_sql = *r[2];
    } else if (c.nullable) {
      c.default_sql = "NULL";
    }
    if (!c.generation.empty()) c.nullable = true;  // a generated column's nullability is derived
    t.columns.push_back(std::move(c));
  }

  SCION_ASSIGN_OR_RETURN(auto stats, conn.Query(
      "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART, NON_UNIQUE, INDEX_TYPE, INDEX_COMMENT, IGNORED, "
      "COLLATION FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = " + db +
      " ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"));
  for (const auto& r : stats.rows) {
    auto it = s.tables.find(Get(r, 0));
    if (it == s.tables.end()) continue;
    Index& idx = it->second.indexes[Get(r, 1)];
    idx.name = Get(r, 1);
    std::string type = Get(r, 5);
    if (idx.name == "PRIMARY") {
      idx.kind = IndexKind::kPrimary;
    } else if (type == "FULLTEXT") {
      idx.kind = IndexKind::kFulltext;
    } else if (type == "SPATIAL") {
      idx.kind = IndexKind::kSpatial;
    } else {
      idx.kind = Get(r, 4) == "0" ? IndexKind::kUnique : IndexKind::kIndex;
    }
    idx.comment = Get(r, 6);
    idx.ignored = Get(r, 7) == "YES";
    IndexPart p;
    p.column = Get(r, 2);
    // SPATIAL keys report a SUB_PART of 32 that cannot be written back: not a real prefix.
    if (r[3] && idx.kind != IndexKind::kSpatial) p.prefix = std::atoi(r[3]->c_str());
    p.desc = Get(r, 8) == "D";
    idx.parts.push_back(std::move(p));
  }

  SCION_ASSIGN_OR_RETURN(auto checks, conn.Query(
      "SELECT TABLE_NAME, CONSTRAINT_NAME, LEVEL, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
      "WHERE CONSTRAINT_SCHEMA = " + db + " ORDER BY TABLE_NAME, CONSTRAINT_NAME"));
  for (const auto& r : checks.rows) {
    auto it = s.tables.find(Get(r, 0));
    if (it == s.tables.end()) continue;
    if (Get(r, 2) == "Column") {
      for (auto& c : it->second.columns) {
        if (c.name == Get(r, 1)) c.check = Get(r, 3);
      }
      continue;
    }
    it->second.checks[Get(r, 1)] = Check{Get(r, 1), Get(r, 3)};
  }

  SCION_ASSIGN_OR_RETURN(auto fks, conn.Query(
      "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME FROM "
      "information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON "
      "r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND "
      "r.TABLE_NAME = k.TABLE_NAME WHERE k.CONSTRAINT_SCHEMA = " + db +
      " ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"));
  for (const auto& r : fks.rows) {
    auto it = s.tables.find(Get(r, 0));
    if (it == s.tables.end()) continue;
    auto& list = it->second.foreign_keys;
    if (list.empty() || list.back().name != Get(r, 1)) list.push_back(ForeignKey{Get(r, 1), {}, Get(r, 3)});
    list.back().columns.push_back(Get(r, 2));
  }

  SCION_ASSIGN_OR_RETURN(auto views, conn.Query(
      "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, SECURITY_TYPE, ALGORITHM FROM information_schema.VIEWS "
      "WHERE TABLE_SCHEMA = " + db));
  for (const auto& r : views.rows) {
    View& v = s.views[Get(r, 0)];
    v.name = Get(r, 0);
    v.definition = Unqualify(Get(r, 1), database);
    v.check_option = Get(r, 2);
    v.security = Get(r, 3);
    v.algorithm = Get(r, 4);
  }

  // SHOW CREATE TABLE per table: kept for CREATE statements, and the source of partitioning.
  for (auto& [name, t] : s.tables) {
    SCION_ASSIGN_OR_RETURN(auto created, conn.Query("SHOW CREATE TABLE " + QuoteIdentifier(database) + "." +
                                                    QuoteIdentifier(name)));
    if (created.rows.empty()) continue;
    t.create_sql = StripAutoIncrement(Get(created.rows[0], 1));
    if (std::find(partitioned.begin(), partitioned.end(), name) != partitioned.end()) {
      auto p = t.create_sql.find("\n PARTITION BY");
      if (p != std::string::npos) t.partitioning = CollapseWhitespace(t.create_sql.substr(p + 2));
    }
  }

  SCION_ASSIGN_OR_RETURN(auto others, conn.Query(
      "SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = " + db +
      " UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = " +
      db + " UNION ALL SELECT 'event', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = " + db));
  for (const auto& r : others.rows) {
    s.unsupported.push_back(fmt::format("{} {}", Get(r, 0), Get(r, 1)));
  }
  return s;
}

}  // namespace scion::schema
