#include "schema/merge.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace scion::schema {
namespace {

template <typename T>
const T* Find(const std::map<std::string, T>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

const Column* FindCol(const Table* t, const std::string& name) { return t ? t->FindColumn(name) : nullptr; }

bool SameTable(const Table* a, const Table* b) {
  if (!a || !b) return a == b;
  return a->SameAs(*b);
}

template <typename T>
bool Same(const T* a, const T* b) {
  if (!a || !b) return a == b;
  return *a == *b;
}

std::string Describe(const Column* c) { return c ? c->type + (c->nullable ? "" : " NOT NULL") : "dropped"; }
std::string Describe(const Index* i) {
  return i ? IndexDefinition(*i) : "dropped";
}
std::string Describe(const Check* c) { return c ? c->clause : "dropped"; }

class Merger {
 public:
  Merger(const std::string& ours, const std::string& theirs) : ours_(ours), theirs_(theirs) {}

  // Three-way pick for one value: returns false (and records a conflict) when both sides changed
  // it differently.
  template <typename T, typename Eq, typename Desc>
  bool Pick(const T* base, const T* ours, const T* theirs, const T** out, Eq eq, Desc desc, const std::string& what) {
    bool ours_changed = !eq(base, ours), theirs_changed = !eq(base, theirs);
    if (!ours_changed) {
      *out = theirs;
    } else if (!theirs_changed || eq(ours, theirs)) {
      *out = ours;
    } else {
      conflicts.push_back(fmt::format("{} changed on both sides: {} on {}, {} on {}", what, desc(ours), ours_,
                                      desc(theirs), theirs_));
      return false;
    }
    return true;
  }

  void MergeTable(const std::string& name, const Table* base, const Table* ours, const Table* theirs, Schema& out) {
    bool ours_changed = !SameTable(base, ours), theirs_changed = !SameTable(base, theirs);
    if (!ours_changed) {
      if (theirs) out.tables[name] = *theirs;
      return;
    }
    if (!theirs_changed || SameTable(ours, theirs)) {
      if (ours) out.tables[name] = *ours;
      return;
    }
    if (!ours || !theirs) {
      conflicts.push_back(ours ? fmt::format("table {} changed on {} and dropped on {}", name, ours_, theirs_)
                               : fmt::format("table {} dropped on {} and changed on {}", name, ours_, theirs_));
      return;
    }
    if (!base) {
      conflicts.push_back(fmt::format("table {} created on both sides with different definitions", name));
      return;
    }
    Table t = *theirs;
    // Columns: theirs' order, with columns only ours added placed after their predecessor on ours.
    std::vector<Column> cols;
    std::set<std::string> names;
    for (const auto& c : base->columns) names.insert(c.name);
    for (const auto& c : ours->columns) names.insert(c.name);
    for (const auto& c : theirs->columns) names.insert(c.name);
    std::map<std::string, const Column*> picked;
    for (const auto& n : names) {
      const Column* r = nullptr;
      auto eq = [](const Column* a, const Column* b) { return Same(a, b); };
      auto desc = [](const Column* c) { return Describe(c); };
      if (Pick(FindCol(base, n), FindCol(ours, n), FindCol(theirs, n), &r, eq, desc,
               fmt::format("column {}.{}", name, n)) && r) {
        picked[n] = r;
      }
    }
    for (const auto& c : theirs->columns) {
      if (picked.count(c.name)) cols.push_back(*picked[c.name]);
    }
    for (std::size_t i = 0; i < ours->columns.size(); ++i) {
      const auto& c = ours->columns[i];
      if (!picked.count(c.name) || theirs->FindColumn(c.name)) continue;
      auto pos = cols.begin();
      for (std::size_t j = i; j-- > 0;) {
        auto it = std::find_if(cols.begin(), cols.end(), [&](const Column& x) { return x.name == ours->columns[j].name; });
        if (it != cols.end()) {
          pos = it + 1;
          break;
        }
      }
      cols.insert(pos, *picked[c.name]);
    }
    t.columns = std::move(cols);
    // Indexes and checks by name.
    std::set<std::string> idx_names;
    for (const auto* s : {base, ours, theirs}) {
      for (const auto& [n, i] : s->indexes) idx_names.insert(n);
    }
    t.indexes.clear();
    for (const auto& n : idx_names) {
      const Index* r = nullptr;
      if (Pick(Find(base->indexes, n), Find(ours->indexes, n), Find(theirs->indexes, n), &r,
               [](const Index* a, const Index* b) { return Same(a, b); }, [](const Index* i) { return Describe(i); },
               fmt::format("index {}.{}", name, n)) && r) {
        t.indexes[n] = *r;
      }
    }
    std::set<std::string> check_names;
    for (const auto* s : {base, ours, theirs}) {
      for (const auto& [n, c] : s->checks) check_names.insert(n);
    }
    t.checks.clear();
    for (const auto& n : check_names) {
      const Check* r = nullptr;
      if (Pick(Find(base->checks, n), Find(ours->checks, n), Find(theirs->checks, n), &r,
               [](const Check* a, const Check* b) { return Same(a, b); }, [](const Check* c) { return Describe(c); },
               fmt::format("check {}.{}", name, n)) && r) {
        t.checks[n] = *r;
      }
    }
    // Table options, one by one.
    auto option = [&](std::string Table::*field, const char* label) {
      const std::string *r = nullptr, *b = &(base->*field), *o = &(ours->*field), *th = &(theirs->*field);
      if (Pick(b, o, th, &r, [](const std::string* x, const std::string* y) { return *x == *y; },
               [](const std::string* x) { return x->empty() ? std::string("(none)") : *x; },
               fmt::format("{} of table {}", label, name))) {
        t.*field = *r;
      }
    };
    option(&Table::engine, "engine");
    option(&Table::charset, "charset");
    option(&Table::collation, "collation");
    option(&Table::row_format, "row format");
    option(&Table::key_block_size, "key block size");
    option(&Table::comment, "comment");
    option(&Table::partitioning, "partitioning");
    out.tables[name] = std::move(t);
  }

  std::vector<std::string> conflicts;

 private:
  std::string ours_, theirs_;
};

// Backquoted identifiers in an expression or view definition.
std::set<std::string> QuotedNames(const std::string& text) {
  std::set<std::string> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '`') continue;
    std::string name;
    std::size_t j = i + 1;
    for (; j < text.size(); ++j) {
      if (text[j] == '`') {
        if (j + 1 < text.size() && text[j + 1] == '`') {
          name += '`';
          ++j;
          continue;
        }
        break;
      }
      name += text[j];
    }
    out.insert(name);
    i = j;
  }
  return out;
}

// Columns a table had on any side, for telling "dropped" from "never a column".
std::set<std::string> ColumnsEver(const std::string& table, std::initializer_list<const Schema*> schemas) {
  std::set<std::string> out;
  for (const auto* s : schemas) {
    auto it = s->tables.find(table);
    if (it == s->tables.end()) continue;
    for (const auto& c : it->second.columns) out.insert(c.name);
  }
  return out;
}

// Each side's choices may be fine alone and broken together (an index kept by one side on a
// column dropped by the other): every reference in the merged schema must still resolve.
void CheckReferences(const Schema& base, const Schema& ours, const Schema& theirs, MergeResult& result) {
  const Schema& merged = result.merged;
  auto& conflicts = result.conflicts;
  std::set<std::string> every_object;
  for (const auto* s : {&base, &ours, &theirs}) {
    for (const auto& [n, t] : s->tables) every_object.insert(n);
    for (const auto& [n, v] : s->views) every_object.insert(n);
  }
  for (const auto& [name, t] : merged.tables) {
    std::set<std::string> now;
    for (const auto& c : t.columns) now.insert(c.name);
    for (const auto& [iname, idx] : t.indexes) {
      for (const auto& p : idx.parts) {
        if (!now.count(p.column)) {
          conflicts.push_back(fmt::format("index {}.{} uses column {}.{}, which the other side dropped", name, iname,
                                          name, p.column));
        }
      }
    }
    // Checks and generated columns name their columns in backquotes.
    auto ever = ColumnsEver(name, {&base, &ours, &theirs});
    auto expression = [&](const std::string& what, const std::string& expr) {
      for (const auto& n : QuotedNames(expr)) {
        if (ever.count(n) && !now.count(n)) {
          conflicts.push_back(fmt::format("{} uses column {}.{}, which the other side dropped", what, name, n));
        }
      }
    };
    for (const auto& [cname, c] : t.checks) expression(fmt::format("check {}.{}", name, cname), c.clause);
    for (const auto& c : t.columns) {
      if (!c.generation.empty()) expression(fmt::format("generated column {}.{}", name, c.name), c.generation);
      if (!c.check.empty()) expression(fmt::format("check on column {}.{}", name, c.name), c.check);
    }
    if (merged.views.count(name)) conflicts.push_back(fmt::format("{} is created as a table and as a view", name));
  }
  for (const auto& [vname, v] : merged.views) {
    for (const auto& n : QuotedNames(v.definition)) {
      if (n != vname && every_object.count(n) && !merged.tables.count(n) && !merged.views.count(n)) {
        conflicts.push_back(fmt::format("view {} selects from {}, which the other side dropped", vname, n));
      }
    }
  }
}

}  // namespace

MergeResult Merge(const Schema& base, const Schema& ours, const Schema& theirs, const std::string& ours_label,
                  const std::string& theirs_label) {
  Merger m(ours_label, theirs_label);
  MergeResult result;
  result.merged.charset = theirs.charset;
  result.merged.collation = theirs.collation;
  std::set<std::string> tables;
  for (const auto* s : {&base, &ours, &theirs}) {
    for (const auto& [n, t] : s->tables) tables.insert(n);
  }
  for (const auto& n : tables) {
    m.MergeTable(n, Find(base.tables, n), Find(ours.tables, n), Find(theirs.tables, n), result.merged);
  }
  std::set<std::string> views;
  for (const auto* s : {&base, &ours, &theirs}) {
    for (const auto& [n, v] : s->views) views.insert(n);
  }
  for (const auto& n : views) {
    const View* r = nullptr;
    if (m.Pick(Find(base.views, n), Find(ours.views, n), Find(theirs.views, n), &r,
               [](const View* a, const View* b) { return Same(a, b); },
               [](const View* v) { return v ? v->definition : std::string("dropped"); }, "view " + n) &&
        r) {
      result.merged.views[n] = *r;
    }
  }
  result.conflicts = std::move(m.conflicts);
  CheckReferences(base, ours, theirs, result);
  if (result.clean()) result.statements = Diff(theirs, result.merged);
  return result;
}

}  // namespace scion::schema
