// Introspect and diff a 500-table schema (target: under 2 seconds together).
//
// Starts a scratch MariaDB instance (fleet::ScratchInstance), creates database `a` with 500 tables
// (8-12 columns, 2-4 indexes each, some CHECKs, some views) and database `b` as a copy with a
// change to every tenth table, then times Introspect(a) + Introspect(b) + Diff(a, b), five runs.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fleet/scratch.h"
#include "mysql/admin_connection.h"
#include "schema/diff.h"
#include "schema/introspect.h"

using Clock = std::chrono::steady_clock;

namespace {

std::string TableSql(int i, bool changed) {
  std::string s = fmt::format(
      "CREATE TABLE t{:03} (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, "
      "name VARCHAR(100) NOT NULL DEFAULT '', email VARCHAR(255), status ENUM('new','active','closed') NOT NULL "
      "DEFAULT 'new', amount DECIMAL(12,2) NOT NULL DEFAULT 0.00, notes TEXT, created_at DATETIME(3) NOT NULL "
      "DEFAULT CURRENT_TIMESTAMP(3), updated_at TIMESTAMP NULL ON UPDATE CURRENT_TIMESTAMP",
      i);
  for (int k = 0; k < i % 5; ++k) s += fmt::format(", extra{} INT", k);
  if (changed) s += ", added_col VARCHAR(20) NOT NULL DEFAULT 'x'";
  s += ", KEY idx_account (account_id, created_at), UNIQUE KEY uq_email (email)";
  if (i % 3 == 0) s += ", KEY idx_name (name(20))";
  if (changed) s += ", KEY idx_status (status)";
  if (i % 4 == 0) s += ", CONSTRAINT chk_amount CHECK (amount >= 0)";
  s += ") ENGINE=InnoDB";
  return s;
}

}  // namespace

int main() {
  auto scratch = scion::fleet::ScratchInstance::Start({.database = "bench", .server_id = 9});
  if (!scratch) {
    std::fprintf(stderr, "%s\n", scratch.error().message.c_str());
    return 1;
  }
  auto conn = (*scratch)->Connect();
  if (!conn) return 1;
  auto& c = **conn;
  (void)c.Execute("SET SESSION foreign_key_checks = 0");
  for (const char* db : {"a", "b"}) {
    (void)c.Execute(fmt::format("CREATE DATABASE {}", db));
    (void)c.Execute(fmt::format("USE {}", db));
    for (int i = 0; i < 500; ++i) {
      auto r = c.Execute(TableSql(i, std::string(db) == "b" && i % 10 == 0));
      if (!r) {
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        return 1;
      }
    }
    for (int v = 0; v < 20; ++v) {
      (void)c.Execute(fmt::format("CREATE VIEW v{:02} AS SELECT id, name FROM t{:03} WHERE status = 'active'", v, v));
    }
  }
  std::vector<double> totals, intro, diffs;
  std::size_t statements = 0;
  for (int run = 0; run < 5; ++run) {
    auto t0 = Clock::now();
    auto a = scion::schema::Introspect(c, "a");
    auto b = scion::schema::Introspect(c, "b");
    auto t1 = Clock::now();
    auto d = scion::schema::Diff(*a, *b);
    auto t2 = Clock::now();
    statements = d.size();
    intro.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    diffs.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    totals.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
    if (a->tables.size() != 500 || b->tables.size() != 500) return 1;
  }
  std::sort(totals.begin(), totals.end());
  std::sort(intro.begin(), intro.end());
  std::sort(diffs.begin(), diffs.end());
  std::printf(
      "{\"tables\": 500, \"views\": 20, \"statements\": %zu, \"introspect_both_ms_median\": %.1f, "
      "\"diff_ms_median\": %.2f, \"total_ms_median\": %.1f, \"total_ms_max\": %.1f}\n",
      statements, intro[2], diffs[2], totals[2], totals[4]);
  return 0;
}
