// Runs one online schema change with Scion's engine, for bench/online_alter_vs_ptosc.py.
//
//   online_alter_bench --socket S --user U --password P --schema DB --table T
//                      --target-sql "CREATE TABLE T (...)" [--chunk-ms 500]
//
// Plans the change (schema::Introspect of DB and of a scratch schema created from --target-sql,
// then migrate::PlanTable), runs an instant plan with ApplyInstant, otherwise OnlineAlter Copy ->
// Verify -> CutOver. Prints progress lines on stderr and one JSON line on stdout:
// {"seconds":..., "strategy":..., "rows_copied":..., "changes_applied":..., ...}.
// The previous table is kept as "<T>_scion_old" (the engine's revert window).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "migrate/online_alter.h"
#include "migrate/plan.h"
#include "mysql/admin_connection.h"
#include "schema/introspect.h"

using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int Fail(std::string_view what, const scion::Error& e) {
  std::fprintf(stderr, "online_alter_bench: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               e.ToString().c_str());
  return 1;
}

void Usage() {
  std::fprintf(stderr,
               "usage: online_alter_bench --socket S --user U --password P --schema DB --table T "
               "--target-sql \"CREATE TABLE T (...)\" [--chunk-ms 500] [--verbose] [--verify behind|after|auto] [--index-build-at 0.5] [--max-chunk-kb N] [--binlog-copy 0|1]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket, user, password, schema_name, table, target_sql;
  int chunk_ms = 500;
  bool verbose = false;  // a progress line per chunk
  std::string verify = "auto";  // behind | after | auto (the engine's default for this machine)
  double index_build_at = -1;  // < 0: the engine's default
  int binlog_copy = -1;        // < 0: the engine's default
  int max_chunk_kb = 0;  // 0: the engine's default
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--socket") socket = next();
    else if (a == "--user") user = next();
    else if (a == "--password") password = next();
    else if (a == "--schema") schema_name = next();
    else if (a == "--table") table = next();
    else if (a == "--target-sql") target_sql = next();
    else if (a == "--chunk-ms") chunk_ms = std::atoi(next().c_str());
    else if (a == "--verbose") verbose = true;
    else if (a == "--verify") verify = next();
    else if (a == "--index-build-at") index_build_at = std::atof(next().c_str());
    else if (a == "--binlog-copy") binlog_copy = std::atoi(next().c_str());
    else if (a == "--max-chunk-kb") max_chunk_kb = std::atoi(next().c_str());
    else {
      Usage();
      return 2;
    }
  }
  if (socket.empty() || user.empty() || schema_name.empty() || table.empty() || target_sql.empty()) {
    Usage();
    return 2;
  }

  auto t0 = Clock::now();
  scion::mysql::ConnectOptions connect{.unix_socket = socket, .user = user, .password = password,
                                       .database = schema_name};
  auto conn = scion::mysql::AdminConnection::Connect(connect);
  if (!conn) return Fail("connect", conn.error());
  auto& c = **conn;

  // The target definition, in a scratch schema.
  std::string scratch = schema_name + "_scion_bench_target";
  for (const std::string& sql : {fmt::format("DROP DATABASE IF EXISTS `{}`", scratch),
                                 fmt::format("CREATE DATABASE `{}`", scratch), fmt::format("USE `{}`", scratch),
                                 target_sql, fmt::format("USE `{}`", schema_name)}) {
    auto st = c.Execute(sql);
    if (!st) return Fail(sql, st.error());
  }
  auto from = scion::schema::Introspect(c, schema_name);
  if (!from) return Fail("introspect " + schema_name, from.error());
  auto to = scion::schema::Introspect(c, scratch);
  if (!to) return Fail("introspect " + scratch, to.error());
  (void)c.Execute(fmt::format("DROP DATABASE IF EXISTS `{}`", scratch));
  if (!from->tables.contains(table) || !to->tables.contains(table)) {
    std::fprintf(stderr, "online_alter_bench: table %s missing from the current schema or from --target-sql\n",
                 table.c_str());
    return 1;
  }
  auto plan = scion::migrate::PlanTable(c, schema_name, from->tables.at(table), to->tables.at(table));
  if (!plan) return Fail("plan", plan.error());
  double plan_s = Since(t0);
  std::fprintf(stderr, "plan: %s (%s) in %.2f s: %s\n", std::string(scion::migrate::StrategyName(plan->strategy)).c_str(),
               plan->reason.c_str(), plan_s, plan->ddl.c_str());

  if (plan->strategy == scion::migrate::Strategy::kInstant) {
    auto st = scion::migrate::ApplyInstant(c, *plan);
    if (!st) return Fail("apply instant", st.error());
    std::printf("{\"seconds\": %.3f, \"strategy\": \"instant\", \"rows_copied\": 0, \"changes_applied\": 0}\n",
                Since(t0));
    return 0;
  }

  scion::migrate::AlterOptions options;
  options.connect = connect;
  options.chunk_target = std::chrono::milliseconds(chunk_ms);
  if (verify != "auto") options.verify_behind_copy = verify == "behind";
  if (index_build_at >= 0) options.index_build_at = index_build_at;
  if (binlog_copy >= 0) options.binlog_copy = binlog_copy != 0;
  if (max_chunk_kb > 0) options.max_chunk_bytes = static_cast<std::uint64_t>(max_chunk_kb) << 10;
  scion::migrate::OnlineAlter alter(options, *plan);
  auto last_print = Clock::now() - std::chrono::seconds(10);
  double indexes_from_s = -1;
  auto copied = alter.Copy([&](const scion::migrate::Progress& p) {
    if (p.phase == "build-indexes" && indexes_from_s < 0) indexes_from_s = Since(t0);
    if (!verbose && Clock::now() - last_print < std::chrono::seconds(2)) return;
    last_print = Clock::now();
    std::fprintf(stderr, "%7.1f s  %-8s %3d %%  rows %llu/%llu  %.0f rows/s  eta %.0f s  changes %llu\n", Since(t0),
                 p.phase.c_str(), p.percent(), static_cast<unsigned long long>(p.rows_copied),
                 static_cast<unsigned long long>(p.rows_estimate), p.rows_per_second, p.eta_seconds,
                 static_cast<unsigned long long>(p.changes_applied));
  });
  if (!copied) return Fail("copy", copied.error());
  double copy_s = Since(t0);
  std::fprintf(stderr, "%7.1f s  copy done\n", copy_s);
  auto verified = alter.Verify();
  if (!verified) return Fail("verify", verified.error());
  double verify_s = Since(t0);
  std::fprintf(stderr, "%7.1f s  verify done\n", verify_s);
  auto cut = alter.CutOver();
  if (!cut) return Fail("cut-over", cut.error());
  double total = Since(t0);
  std::fprintf(stderr, "%7.1f s  cut over; previous table kept as %s\n", total, alter.old_table().c_str());
  auto p = alter.progress();
  std::printf(
      "{\"seconds\": %.3f, \"strategy\": \"copy\", \"rows_copied\": %llu, \"changes_applied\": %llu, "
      "\"plan_s\": %.3f, \"indexes_from_s\": %.3f, \"copy_done_s\": %.3f, \"verify_done_s\": %.3f, \"old_table\": \"%s\"}\n",
      total, static_cast<unsigned long long>(p.rows_copied), static_cast<unsigned long long>(p.changes_applied),
      plan_s, indexes_from_s, copy_s, verify_s, alter.old_table().c_str());
  std::fflush(stdout);
  return 0;
}
