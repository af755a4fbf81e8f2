// Three-way merge of schemas: replay a branch's own changes (base -> ours) onto the target as it
// is now (theirs). A change made on the target since the branch was cut is never undone: when
// both sides changed the same thing differently, that is a conflict with a plain-language reason.
#pragma once

#include <string>
#include <vector>

#include "schema/diff.h"
#include "schema/model.h"

namespace scion::schema {

struct MergeResult {
  Schema merged;
  std::vector<Statement> statements;  // theirs -> merged
  std::vector<std::string> conflicts;  // empty when the merge is clean
  bool clean() const { return conflicts.empty(); }
};

// `ours_label` and `theirs_label` name the sides in conflict reasons (e.g. "the branch", "main").
MergeResult Merge(const Schema& base, const Schema& ours, const Schema& theirs,
                  const std::string& ours_label = "the branch", const std::string& theirs_label = "main");

}  // namespace scion::schema
