#include "sql/classifier.h"

#include <algorithm>
#include <cctype>

namespace scion::sql {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

using Tokens = std::vector<Token>;

// True when word `w` appears at index i.
bool WordAt(const Tokens& t, std::size_t i, std::string_view w) { return i < t.size() && t[i].Is(w); }

// The object word after CREATE, skipping OR REPLACE, ALGORITHM=..., DEFINER=..., SQL SECURITY
// ..., UNIQUE/FULLTEXT/SPATIAL, IF NOT EXISTS, AGGREGATE, TEMPORARY.
struct CreateTarget {
  std::string object;  // TABLE, INDEX, VIEW, ...
  bool temporary = false;
};

CreateTarget CreateObject(const Tokens& t, std::size_t i) {
  CreateTarget out;
  while (i < t.size()) {
    const Token& k = t[i];
    if (k.kind != TokenKind::kWord) {
      ++i;
      continue;
    }
    std::string w = Upper(k.text);
    if (w == "OR" || w == "REPLACE" || w == "UNIQUE" || w == "FULLTEXT" || w == "SPATIAL" || w == "AGGREGATE" ||
        w == "ONLINE" || w == "OFFLINE" || w == "IGNORE") {
      ++i;
      continue;
    }
    if (w == "TEMPORARY") {
      out.temporary = true;
      ++i;
      continue;
    }
    if (w == "ALGORITHM" || w == "DEFINER") {  // ALGORITHM = x, DEFINER = user@host
      i += 2;
      while (i < t.size() && (t[i].kind != TokenKind::kWord || t[i].text.find('@') != std::string::npos)) ++i;
      if (i < t.size() && t[i].kind == TokenKind::kWord && !t[i].Is("SQL") && !t[i].Is("VIEW")) ++i;
      continue;
    }
    if (w == "SQL") {  // SQL SECURITY DEFINER|INVOKER
      i += 3;
      continue;
    }
    out.object = w;
    return out;
  }
  return out;
}

bool DeclaresForeignKey(const Tokens& t, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    if (t[i].Is("REFERENCES")) return true;
    if (t[i].Is("FOREIGN") && WordAt(t, i + 1, "KEY")) return true;
  }
  return false;
}

Classification ClassifyOne(const Tokens& t, std::size_t begin, std::size_t end);

// PREPARE name FROM <string | @var>, EXECUTE IMMEDIATE <string | @var>.
void ClassifyDynamic(const Tokens& t, std::size_t from, std::size_t end, Classification& c) {
  if (from >= end) return;
  if (t[from].kind == TokenKind::kString) {
    for (const auto& inner : ClassifyAll(t[from].text)) {
      c.ddl |= inner.ddl;
      c.foreign_key |= inner.foreign_key;
      c.dynamic_sql |= inner.dynamic_sql;
      c.kill |= inner.kill;
    }
  } else {
    c.dynamic_sql = true;  // a variable or an expression
  }
}

Classification ClassifyOne(const Tokens& t, std::size_t begin, std::size_t end) {
  Classification c;
  // Skip leading parentheses: (SELECT ...) UNION ...
  std::size_t i = begin;
  while (i < end && t[i].kind == TokenKind::kPunct && t[i].text == "(") ++i;
  if (i >= end) return c;
  if (t[i].kind != TokenKind::kWord) {
    c.kind = StatementKind::kOther;
    return c;
  }
  std::string w = Upper(t[i].text);
  c.first_keyword = w;
  c.kill = w == "KILL";
  if (w == "SELECT" || w == "WITH" || w == "VALUES" || w == "TABLE") {
    c.kind = StatementKind::kSelect;
  } else if (w == "INSERT") {
    c.kind = StatementKind::kInsert;
  } else if (w == "UPDATE") {
    c.kind = StatementKind::kUpdate;
  } else if (w == "DELETE") {
    c.kind = StatementKind::kDelete;
  } else if (w == "REPLACE") {
    c.kind = StatementKind::kReplace;
  } else if (w == "SET") {
    c.kind = StatementKind::kSet;
  } else if (w == "USE") {
    c.kind = StatementKind::kUse;
  } else if (w == "BEGIN" || w == "START" || w == "COMMIT" || w == "ROLLBACK" || w == "SAVEPOINT" ||
             w == "RELEASE" || w == "XA") {
    c.kind = StatementKind::kTransaction;
  } else if (w == "SHOW" || w == "DESCRIBE" || w == "DESC" || w == "EXPLAIN") {
    c.kind = StatementKind::kShow;
  } else if (w == "PREPARE") {
    c.kind = StatementKind::kPrepare;
    std::size_t k = i + 1;
    while (k < end && !t[k].Is("FROM")) ++k;
    ClassifyDynamic(t, k + 1, end, c);
  } else if (w == "EXECUTE") {
    if (WordAt(t, i + 1, "IMMEDIATE")) {
      c.kind = StatementKind::kPrepare;
      ClassifyDynamic(t, i + 2, end, c);
    } else {
      c.kind = StatementKind::kExecute;
    }
  } else if (w == "DEALLOCATE" || (w == "DROP" && WordAt(t, i + 1, "PREPARE"))) {
    c.kind = StatementKind::kDeallocate;
  } else if (w == "CALL") {
    c.kind = StatementKind::kCall;
  } else if (w == "LOCK" || w == "UNLOCK") {
    c.kind = StatementKind::kLock;
  } else if (w == "CREATE") {
    auto target = CreateObject(t, i + 1);
    static const char* kSchemaObjects[] = {"TABLE", "INDEX", "VIEW", "DATABASE", "SCHEMA", "TRIGGER", "PROCEDURE",
                                           "FUNCTION", "EVENT", "SEQUENCE", "PACKAGE"};
    bool schema_object = std::any_of(std::begin(kSchemaObjects), std::end(kSchemaObjects),
                                     [&](const char* o) { return target.object == o; });
    c.kind = schema_object ? StatementKind::kDdl : StatementKind::kOther;
    c.ddl = schema_object && !target.temporary;
    if (target.object == "TABLE") c.foreign_key = DeclaresForeignKey(t, i + 1, end);
  } else if (w == "ALTER" || w == "DROP" || w == "RENAME") {
    std::size_t k = i + 1;
    while (k < end && (t[k].Is("ONLINE") || t[k].Is("IGNORE") || t[k].Is("TEMPORARY"))) ++k;
    bool temporary = std::any_of(t.begin() + static_cast<long>(i), t.begin() + static_cast<long>(std::min(k, end)),
                                 [](const Token& x) { return x.Is("TEMPORARY"); });
    std::string object = k < end && t[k].kind == TokenKind::kWord ? Upper(t[k].text) : "";
    bool account = object == "USER" || object == "ROLE" || object == "SERVER";
    c.kind = account ? StatementKind::kOther : StatementKind::kDdl;
    c.ddl = !account && !temporary;
    if (w == "ALTER" && object == "TABLE") c.foreign_key = DeclaresForeignKey(t, k, end);
  } else if (w == "TRUNCATE" || w == "OPTIMIZE" || w == "REPAIR") {
    c.kind = StatementKind::kDdl;
    c.ddl = true;
  } else {
    c.kind = StatementKind::kOther;
  }
  return c;
}

}  // namespace

std::string_view StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kEmpty: return "empty";
    case StatementKind::kSelect: return "select";
    case StatementKind::kInsert: return "insert";
    case StatementKind::kUpdate: return "update";
    case StatementKind::kDelete: return "delete";
    case StatementKind::kReplace: return "replace";
    case StatementKind::kDdl: return "ddl";
    case StatementKind::kSet: return "set";
    case StatementKind::kUse: return "use";
    case StatementKind::kTransaction: return "transaction";
    case StatementKind::kShow: return "show";
    case StatementKind::kPrepare: return "prepare";
    case StatementKind::kExecute: return "execute";
    case StatementKind::kDeallocate: return "deallocate";
    case StatementKind::kCall: return "call";
    case StatementKind::kLock: return "lock";
    case StatementKind::kOther: return "other";
  }
  return "other";
}

std::vector<Classification> ClassifyAll(std::string_view sql) {
  auto tokens = Lex(sql);
  std::vector<Classification> out;
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= tokens.size(); ++i) {
    if (i == tokens.size() || tokens[i].kind == TokenKind::kSemicolon) {
      if (i > begin) out.push_back(ClassifyOne(tokens, begin, i));
      begin = i + 1;
    }
  }
  return out;
}

Classification ClassifyText(std::string_view sql) {
  Classification all;
  for (const auto& c : ClassifyAll(sql)) {
    if (all.kind == StatementKind::kEmpty) {
      all.kind = c.kind;
      all.first_keyword = c.first_keyword;
    }
    all.ddl |= c.ddl;
    all.foreign_key |= c.foreign_key;
    all.dynamic_sql |= c.dynamic_sql;
    all.kill |= c.kill;
  }
  return all;
}

}  // namespace scion::sql
