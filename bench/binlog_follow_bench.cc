// Follows a live instance's binlog with BinlogStream and samples how far behind it is.
//
// Usage: binlog_follow_bench SOCKET USER PASSWORD SECONDS
// Prints one JSON object: transactions and rows delivered, lag samples (in transactions, from
// @@gtid_binlog_pos every 250 ms), and how long the stream took to catch up once SECONDS passed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "binlog/stream.h"
#include "mysql/blocking_client.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

class Counter : public scion::binlog::ChangeHandler {
 public:
  bool OnRow(const scion::binlog::RowChange&) override {
    rows.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  bool OnCommit(const scion::binlog::TransactionInfo& tx, const std::string&) override {
    auto last_dash = tx.gtid.rfind('-');
    seq.store(std::stoull(tx.gtid.substr(last_dash + 1)), std::memory_order_relaxed);
    transactions.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  std::atomic<std::uint64_t> rows{0}, transactions{0}, seq{0};
};

std::uint64_t ServerSeq(scion::mysql::BlockingClient& c) {
  auto r = c.Query("SELECT @@gtid_binlog_pos");
  if (!r || r->rows.empty() || !r->rows[0][0]) return 0;
  const std::string& pos = *r->rows[0][0];
  auto dash = pos.rfind('-');
  return dash == std::string::npos ? 0 : std::stoull(pos.substr(dash + 1));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s SOCKET USER PASSWORD SECONDS\n", argv[0]);
    return 2;
  }
  scion::binlog::StreamOptions o;
  o.endpoint = argv[1];
  o.user = argv[2];
  o.password = argv[3];
  int seconds = std::atoi(argv[4]);
  auto probe = scion::mysql::BlockingClient::Connect({.endpoint = o.endpoint, .user = o.user, .password = o.password});
  if (!probe) {
    std::fprintf(stderr, "error: %s\n", probe.error().message.c_str());
    return 1;
  }
  Counter counter;
  scion::binlog::BinlogStream stream(o);
  std::thread runner([&] {
    auto st = stream.Run(counter);
    if (!st) std::fprintf(stderr, "stream error: %s\n", st.error().message.c_str());
  });
  auto start = Clock::now();
  std::vector<std::uint64_t> lag;
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    std::this_thread::sleep_for(250ms);
    std::uint64_t server = ServerSeq(**probe);
    std::uint64_t mine = counter.seq.load();
    // Before the first commit arrives there is nothing to compare with.
    lag.push_back(mine == 0 || server <= mine ? 0 : server - mine);
  }
  // Catch-up: how long until the stream has everything the server had at the end.
  std::uint64_t target = ServerSeq(**probe);
  auto catch_start = Clock::now();
  while (counter.seq.load() < target && Clock::now() - catch_start < 60s) std::this_thread::sleep_for(5ms);
  double catch_up_ms = std::chrono::duration<double, std::milli>(Clock::now() - catch_start).count();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stream.Stop();
  runner.join();
  std::uint64_t max_lag = 0, sum = 0;
  for (auto l : lag) {
    max_lag = std::max(max_lag, l);
    sum += l;
  }
  std::size_t q = std::max<std::size_t>(1, lag.size() / 4);
  double first_q = 0, last_q = 0;
  for (std::size_t i = 0; i < q; ++i) {
    first_q += lag[i];
    last_q += lag[lag.size() - 1 - i];
  }
  std::printf(
      "{\"seconds\": %.1f, \"transactions\": %llu, \"rows\": %llu, \"rows_per_s\": %.0f, \"lag_samples\": %zu, "
      "\"lag_max_tx\": %llu, \"lag_mean_tx\": %.1f, \"lag_mean_first_quarter_tx\": %.1f, "
      "\"lag_mean_last_quarter_tx\": %.1f, \"catch_up_ms\": %.1f}\n",
      elapsed, static_cast<unsigned long long>(counter.transactions.load()),
      static_cast<unsigned long long>(counter.rows.load()), counter.rows.load() / elapsed, lag.size(),
      static_cast<unsigned long long>(max_lag), lag.empty() ? 0.0 : static_cast<double>(sum) / lag.size(),
      first_q / q, last_q / q, catch_up_ms);
  return 0;
}
