#include "schema/diff.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "mysql/protocol.h"

namespace scion::schema {
namespace {
using mysql::QuoteIdentifier;
using mysql::QuoteString;

// Longest common subsequence of two name lists (columns kept in place).
std::set<std::string> Lcs(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::vector<int>> dp(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      dp[i][j] = a[i] == b[j] ? dp[i + 1][j + 1] + 1 : std::max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  std::set<std::string> out;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      out.insert(a[i]);
      ++i;
      ++j;
    } else if (dp[i + 1][j] >= dp[i][j + 1]) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

struct TypeInfo {
  std::string base;
  std::vector<std::string> args;
  bool is_unsigned = false;
};

TypeInfo ParseType(const std::string& t) {
  TypeInfo info;
  auto paren = t.find('(');
  auto space = t.find(' ');
  info.base = t.substr(0, std::min(paren, space));
  if (paren != std::string::npos) {
    auto close = t.rfind(')');
    std::string inner = t.substr(paren + 1, close - paren - 1);
    // Split on commas outside quotes (ENUM/SET values may hold commas).
    std::string cur;
    bool quoted = false;
    for (std::size_t i = 0; i < inner.size(); ++i) {
      char c = inner[i];
      if (c == '\'') {
        if (quoted && i + 1 < inner.size() && inner[i + 1] == '\'') {
          cur += "''";
          ++i;
          continue;
        }
        quoted = !quoted;
      }
      if (c == ',' && !quoted) {
        info.args.push_back(cur);
        cur.clear();
        continue;
      }
      cur += c;
    }
    info.args.push_back(cur);
  }
  info.is_unsigned = t.find("unsigned") != std::string::npos;
  return info;
}

int IntRank(const std::string& base) {
  static const std::vector<std::string> kRanks = {"tinyint", "smallint", "mediumint", "int", "bigint"};
  auto it = std::find(kRanks.begin(), kRanks.end(), base);
  return it == kRanks.end() ? -1 : static_cast<int>(it - kRanks.begin());
}

int TextRank(const std::string& base) {
  static const std::vector<std::string> kRanks = {"tinytext", "text", "mediumtext", "longtext"};
  static const std::vector<std::string> kBlobs = {"tinyblob", "blob", "mediumblob", "longblob"};
  for (const auto* list : {&kRanks, &kBlobs}) {
    auto it = std::find(list->begin(), list->end(), base);
    if (it != list->end()) return static_cast<int>(it - list->begin());
  }
  return -1;
}

long Arg(const TypeInfo& t, std::size_t i) { return i < t.args.size() ? std::atol(t.args[i].c_str()) : 0; }

bool IsTextual(const std::string& type) {
  return type.find("char") != std::string::npos || type.find("text") != std::string::npos ||
         type.rfind("enum(", 0) == 0 || type.rfind("set(", 0) == 0;
}

// The collation a column really has: its own, or the table's for a textual column.
std::string EffectiveCollation(const Column& c, const Table& t) {
  if (!c.collation.empty()) return c.collation;
  return IsTextual(c.type) ? t.collation : std::string();
}

// MariaDB cannot change a generated column's expression or kind in place (error 1907).
bool GenerationChanged(const Column& a, const Column& b) {
  return a.generation != b.generation || (!a.generation.empty() && a.stored != b.stored);
}

bool IsInstantColumnChange(const Column& from, const Column& to) {
  // Defaults, comments and visibility are metadata; so is a type that stays the same.
  Column a = from, b = to;
  a.default_sql = b.default_sql;
  a.comment = b.comment;
  a.invisible = b.invisible;
  return a == b;
}

std::vector<std::string> ViewDependencies(const View& v, const std::map<std::string, View>& views) {
  std::vector<std::string> deps;
  for (const auto& [name, other] : views) {
    if (name != v.name && v.definition.find(QuoteIdentifier(name)) != std::string::npos) deps.push_back(name);
  }
  return deps;
}

// Views in an order where each comes after the views it selects from.
std::vector<std::string> ViewOrder(const std::map<std::string, View>& views, const std::set<std::string>& wanted) {
  std::vector<std::string> order;
  std::set<std::string> done, visiting;
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    if (done.count(n) || visiting.count(n)) return;
    visiting.insert(n);
    for (const auto& d : ViewDependencies(views.at(n), views)) visit(d);
    visiting.erase(n);
    done.insert(n);
    if (wanted.count(n)) order.push_back(n);
  };
  for (const auto& [name, v] : views) visit(name);
  return order;
}

}  // namespace

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kCreateTable: return "create_table";
    case ChangeKind::kAlterTable: return "alter_table";
    case ChangeKind::kDropTable: return "drop_table";
    case ChangeKind::kCreateView: return "create_view";
    case ChangeKind::kAlterView: return "alter_view";
    case ChangeKind::kDropView: return "drop_view";
  }
  return "?";
}

bool IsNarrowing(const std::string& from, const std::string& to) {
  if (from == to) return false;
  TypeInfo a = ParseType(from), b = ParseType(to);
  int ia = IntRank(a.base), ib = IntRank(b.base);
  if (ia >= 0 && ib >= 0) {
    if (a.is_unsigned != b.is_unsigned) {
      // signed -> wider unsigned still loses negatives; unsigned -> signed needs a wider type
      return a.is_unsigned ? ib <= ia : true;
    }
    return ib < ia;
  }
  if ((a.base == "varchar" || a.base == "char" || a.base == "varbinary" || a.base == "binary") &&
      (b.base == "varchar" || b.base == "char" || b.base == "varbinary" || b.base == "binary")) {
    return Arg(b, 0) < Arg(a, 0);
  }
  int ta = TextRank(a.base), tb = TextRank(b.base);
  if ((a.base == "varchar" || a.base == "char") && tb >= 0) {
    // Up to 4 bytes a character (utf8mb4) into 255 / 65,535 / 16 M / 4 G bytes.
    static constexpr long kMaxBytes[] = {255, 65535, 16777215, 4294967295L};
    return Arg(a, 0) * 4 > kMaxBytes[tb];
  }
  if (ta >= 0 && tb >= 0) return tb < ta;
  if (a.base == "decimal" && b.base == "decimal") {
    long pa = Arg(a, 0), sa = Arg(a, 1), pb = Arg(b, 0), sb = Arg(b, 1);
    return (pb - sb) < (pa - sa) || sb < sa || (b.is_unsigned && !a.is_unsigned);
  }
  if ((a.base == "float" && b.base == "double")) return false;
  if ((a.base == "enum" && b.base == "enum") || (a.base == "set" && b.base == "set")) {
    for (const auto& v : a.args) {
      if (std::find(b.args.begin(), b.args.end(), v) == b.args.end()) return true;
    }
    return false;
  }
  if (a.base == b.base && a.args == b.args) return false;  // e.g. only unsigned/zerofill noise handled above
  if ((a.base == "datetime" || a.base == "timestamp" || a.base == "time") && a.base == b.base) {
    return Arg(b, 0) < Arg(a, 0);
  }
  return true;  // a change of type family: values may not survive
}

std::vector<std::string> AlterClauses(const Table& from, const Table& to) {
  std::vector<std::string> clauses;
  // 1. Checks and indexes that go away or change.
  for (const auto& [name, c] : from.checks) {
    auto it = to.checks.find(name);
    if (it == to.checks.end() || !(it->second == c)) clauses.push_back("DROP CONSTRAINT " + QuoteIdentifier(name));
  }
  auto only_ignored_differs = [](const Index& a, const Index& b) {
    Index x = a;
    x.ignored = b.ignored;
    return x == b && a.ignored != b.ignored;
  };
  for (const auto& [name, idx] : from.indexes) {
    auto it = to.indexes.find(name);
    if (it != to.indexes.end() && (it->second == idx || only_ignored_differs(idx, it->second))) continue;
    clauses.push_back(idx.kind == IndexKind::kPrimary ? "DROP PRIMARY KEY" : "DROP KEY " + QuoteIdentifier(name));
  }
  // 2. Columns that go away.
  std::vector<std::string> kept_order;
  for (const auto& c : from.columns) {
    const Column* now = to.FindColumn(c.name);
    if (now && !GenerationChanged(c, *now)) {
      kept_order.push_back(c.name);
    } else {
      clauses.push_back("DROP COLUMN " + QuoteIdentifier(c.name));  // re-added below when it changed kind
    }
  }
  // 3. Columns added, changed or moved, in target order: each placed after its target
  //    predecessor, which is either in place already or was placed by an earlier clause.
  std::vector<std::string> target_common;
  for (const auto& c : to.columns) {
    const Column* old = from.FindColumn(c.name);
    if (old && !GenerationChanged(*old, c)) target_common.push_back(c.name);
  }
  std::set<std::string> in_place = Lcs(kept_order, target_common);
  bool table_collation_changed = from.collation != to.collation;
  std::string previous;
  for (const auto& c : to.columns) {
    const Column* old = from.FindColumn(c.name);
    if (old && GenerationChanged(*old, c)) old = nullptr;  // dropped above, added again
    std::string position = previous.empty() ? " FIRST" : " AFTER " + QuoteIdentifier(previous);
    // When the table's default collation changes, existing textual columns keep their old one
    // unless told: spell the new one out (it then reads back as inherited).
    Column wanted = c;
    bool collation_moves = old && table_collation_changed && EffectiveCollation(*old, from) != EffectiveCollation(c, to);
    if (collation_moves && wanted.collation.empty()) {
      wanted.charset = to.charset;
      wanted.collation = to.collation;
    }
    if (!old) {
      clauses.push_back("ADD COLUMN " + ColumnDefinition(c) + position);
    } else if (!in_place.count(c.name)) {
      clauses.push_back("MODIFY COLUMN " + ColumnDefinition(wanted) + position);
    } else if (!(*old == c) || collation_moves) {
      clauses.push_back("MODIFY COLUMN " + ColumnDefinition(wanted));
    }
    previous = c.name;
  }
  // 4. Indexes and checks that are new or changed.
  std::vector<const Index*> added;
  for (const auto& [name, idx] : to.indexes) {
    auto it = from.indexes.find(name);
    if (it != from.indexes.end() && only_ignored_differs(it->second, idx)) {
      clauses.push_back(fmt::format("ALTER INDEX {} {}", QuoteIdentifier(name), idx.ignored ? "IGNORED" : "NOT IGNORED"));
      continue;
    }
    if (it == from.indexes.end() || !(it->second == idx)) added.push_back(&idx);
  }
  std::stable_sort(added.begin(), added.end(),
                   [](const Index* a, const Index* b) { return a->kind == IndexKind::kPrimary && b->kind != IndexKind::kPrimary; });
  for (const auto* idx : added) clauses.push_back("ADD " + IndexDefinition(*idx));
  for (const auto& [name, c] : to.checks) {
    auto it = from.checks.find(name);
    if (it == from.checks.end() || !(it->second == c)) {
      clauses.push_back(fmt::format("ADD CONSTRAINT {} CHECK ({})", QuoteIdentifier(name), c.clause));
    }
  }
  // 5. Table options.
  if (from.engine != to.engine) clauses.push_back("ENGINE=" + to.engine);
  if (from.collation != to.collation || from.charset != to.charset) {
    clauses.push_back(fmt::format("DEFAULT CHARSET={} COLLATE={}", to.charset, to.collation));
  }
  if (from.row_format != to.row_format) {
    clauses.push_back("ROW_FORMAT=" + (to.row_format.empty() ? std::string("DEFAULT") : to.row_format));
  }
  if (from.key_block_size != to.key_block_size) {
    clauses.push_back("KEY_BLOCK_SIZE=" + (to.key_block_size.empty() ? std::string("0") : to.key_block_size));
  }
  if (from.comment != to.comment) clauses.push_back("COMMENT=" + QuoteString(to.comment));
  // 6. Partitioning comes last, without a comma (MariaDB's grammar).
  if (from.partitioning != to.partitioning) {
    std::string p = to.partitioning.empty() ? "REMOVE PARTITIONING" : to.partitioning;
    if (clauses.empty()) {
      clauses.push_back(p);
    } else {
      clauses.back() += " " + p;
    }
  }
  return clauses;
}

std::vector<Statement> Diff(const Schema& from, const Schema& to) {
  std::vector<Statement> out;
  // Views that disappear are dropped before tables change; new and changed views are created
  // (CREATE OR REPLACE) after, once the tables they select from have their new shape.
  std::set<std::string> drop_views, create_views;
  for (const auto& [name, v] : from.views) {
    auto it = to.views.find(name);
    if (it == to.views.end()) drop_views.insert(name);
  }
  for (const auto& [name, v] : to.views) {
    auto it = from.views.find(name);
    if (it == from.views.end() || !(it->second == v)) create_views.insert(name);
  }
  auto drop_order = ViewOrder(from.views, drop_views);
  std::reverse(drop_order.begin(), drop_order.end());
  for (const auto& name : drop_order) {
    out.push_back({name, ChangeKind::kDropView, "DROP VIEW " + QuoteIdentifier(name), false, true});
  }
  for (const auto& [name, t] : to.tables) {
    auto it = from.tables.find(name);
    if (it == from.tables.end()) {
      out.push_back({name, ChangeKind::kCreateTable, t.create_sql, false, true});
      continue;
    }
    const Table& old = it->second;
    auto clauses = AlterClauses(old, t);
    if (clauses.empty()) continue;
    Statement st{name, ChangeKind::kAlterTable, "", false, true};
    st.sql = "ALTER TABLE " + QuoteIdentifier(name) + " " + clauses[0];
    for (std::size_t i = 1; i < clauses.size(); ++i) {
      bool partition_tail = clauses[i].rfind("PARTITION BY", 0) == 0 || clauses[i] == "REMOVE PARTITIONING";
      st.sql += (partition_tail ? " " : ", ") + clauses[i];
    }
    for (const auto& c : old.columns) {
      const Column* now = t.FindColumn(c.name);
      if (!now || IsNarrowing(c.type, now->type)) st.drops_data = true;
      // Re-added: a formerly stored column's values are replaced (by defaults or an expression).
      if (now && GenerationChanged(c, *now) && (now->generation.empty() || c.generation.empty())) st.drops_data = true;
      if (now && !IsInstantColumnChange(c, *now)) st.instant = false;
    }
    bool indexes_changed = old.indexes != t.indexes || old.checks != t.checks;
    bool options_changed = old.engine != t.engine || old.collation != t.collation || old.row_format != t.row_format ||
                           old.key_block_size != t.key_block_size || old.partitioning != t.partitioning;
    if (indexes_changed || options_changed) st.instant = false;
    for (const auto& c : t.columns) {
      // A new AUTO_INCREMENT or stored generated column has to fill every row.
      if (!old.FindColumn(c.name) && (c.auto_increment || (!c.generation.empty() && c.stored))) st.instant = false;
    }
    out.push_back(std::move(st));
  }
  for (const auto& [name, t] : from.tables) {
    if (!to.tables.count(name)) {
      out.push_back({name, ChangeKind::kDropTable, "DROP TABLE " + QuoteIdentifier(name), true, true});
    }
  }
  for (const auto& name : ViewOrder(to.views, create_views)) {
    bool existed = from.views.count(name) > 0;
    out.push_back({name, existed ? ChangeKind::kAlterView : ChangeKind::kCreateView,
                   ViewCreateSql(to.views.at(name), existed), false, true});
  }
  return out;
}

}  // namespace scion::schema
