// The schema model: what a database's tables and views are, independent of how they were
// written. Two schemas MariaDB treats as the same compare equal (see Normalize rules in
// introspect.cc): integer display widths, inherited charsets and collations, implicit defaults,
// AUTO_INCREMENT counters and the schema's own name do not count.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace scion::schema {

struct Column {
  std::string name;
  std::string type;                        // normalized COLUMN_TYPE, e.g. "int unsigned", "varchar(20)"
  bool nullable = true;
  std::optional<std::string> default_sql;  // SQL after DEFAULT ("NULL", "'a''b'", "current_timestamp(3)")
  std::string on_update;                   // "current_timestamp(3)" or empty
  bool auto_increment = false;
  std::string charset;    // empty when inherited from the table
  std::string collation;  // empty when inherited from the table
  std::string comment;
  std::string generation;  // generated column expression, empty for ordinary columns
  bool stored = false;     // STORED/PERSISTENT (else VIRTUAL), for generated columns
  bool invisible = false;
  std::string check;       // a column-level CHECK clause (MariaDB adds json_valid() for JSON)
  bool operator==(const Column&) const = default;
};

struct IndexPart {
  std::string column;
  int prefix = 0;  // 0 = whole column
  bool desc = false;
  bool operator==(const IndexPart&) const = default;
};

enum class IndexKind { kPrimary, kUnique, kIndex, kFulltext, kSpatial };

struct Index {
  std::string name;  // "PRIMARY" for the primary key
  IndexKind kind = IndexKind::kIndex;
  std::vector<IndexPart> parts;
  std::string comment;
  bool ignored = false;
  bool operator==(const Index&) const = default;
};

struct Check {
  std::string name;
  std::string clause;
  bool operator==(const Check&) const = default;
};

struct ForeignKey {
  std::string name;
  std::vector<std::string> columns;
  std::string referenced_table;
  bool operator==(const ForeignKey&) const = default;
};

struct Table {
  std::string name;
  std::vector<Column> columns;       // in table order
  std::map<std::string, Index> indexes;  // by name
  std::map<std::string, Check> checks;   // table-level, by name
  std::vector<ForeignKey> foreign_keys;  // detected for lint; never generated
  std::string engine;      // "InnoDB"
  std::string charset;     // table default charset
  std::string collation;   // table default collation
  std::string row_format;  // explicit ROW_FORMAT, empty when not given
  std::string key_block_size;
  std::string comment;
  std::string partitioning;  // "PARTITION BY ..." as MariaDB prints it, whitespace collapsed
  std::string create_sql;    // SHOW CREATE TABLE without AUTO_INCREMENT=N (not compared)

  const Column* FindColumn(const std::string& name) const;
  // Equality of everything but create_sql.
  bool SameAs(const Table& other) const;
};

struct View {
  std::string name;
  std::string definition;  // SELECT text with the schema qualifier removed
  std::string algorithm;   // UNDEFINED, MERGE, TEMPTABLE
  std::string security;    // DEFINER, INVOKER
  std::string check_option;  // NONE, CASCADED, LOCAL
  bool operator==(const View&) const = default;
};

struct Schema {
  std::string charset = "utf8mb4";
  std::string collation = "utf8mb4_general_ci";
  std::map<std::string, Table> tables;
  std::map<std::string, View> views;
  // Objects deploy requests do not support (triggers, routines, events), described for users.
  std::vector<std::string> unsupported;

  bool SameAs(const Schema& other) const;
};

std::string_view IndexKindName(IndexKind kind);

// SQL fragments.
std::string ColumnDefinition(const Column& column);  // "`c` int NOT NULL DEFAULT 0 ..."
std::string IndexDefinition(const Index& index);     // "UNIQUE KEY `u` (`a`,`b`(10) DESC)"
std::string ViewCreateSql(const View& view, bool or_replace);

}  // namespace scion::schema
