// The change stream of one MariaDB instance: a GTID-based replica connection that decodes every
// committed change and hands it to a handler row by row (a large transaction is never held in
// memory whole). Resumes from a saved GTID position, reports a purged position clearly, and
// reconnects with backoff after a lost connection without losing or repeating a row.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "binlog/event.h"

namespace scion::mysql {
class BlockingClient;
}

namespace scion::binlog {

struct StreamOptions {
  std::string endpoint;  // the instance's unix socket (or host:port)
  std::string user;      // needs REPLICATION SLAVE (the platform's internal account)
  std::string password;
  // GTID position to start after, e.g. "0-101-57" (one GTID per domain, comma-separated);
  // nullopt starts at the current end of the binlog, "" at its beginning.
  std::optional<std::string> start_position;
  // Only these schemas / tables ("table" or "schema.table"); empty = everything.
  std::set<std::string> schemas;
  std::set<std::string> tables;
  // Asks the server not to send transactions written with @@skip_replication = 1 (it filters
  // them before they leave; replicas and mysqlbinlog still get them). Such transactions are
  // neither delivered nor counted in position().
  bool skip_marked = false;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds max_backoff{5000};
  int max_reconnect_attempts = -1;  // -1: keep trying until Stop()
};

struct TransactionInfo {
  std::string gtid;
  std::uint32_t timestamp = 0;  // seconds since the epoch, from the binlog
};

struct RowChange {
  const TransactionInfo* tx;
  const TableMap* table;
  RowOp op;
  const std::vector<Value>* before;  // empty for inserts
  const std::vector<Value>* after;   // empty for deletes
};

struct DdlChange {
  const TransactionInfo* tx;
  std::string schema;
  std::string sql;
};

// Receives the stream on the thread that calls Run(). Returning false stops the stream.
class ChangeHandler {
 public:
  virtual ~ChangeHandler() = default;
  virtual bool OnBegin(const TransactionInfo&) { return true; }
  virtual bool OnRow(const RowChange& change) = 0;
  virtual bool OnDdl(const DdlChange&) { return true; }
  // The transaction is complete; `position` is where to resume after it.
  virtual bool OnCommit(const TransactionInfo&, const std::string& position) { (void)position; return true; }
  // Called when idle, at least once per heartbeat period, and while waiting to reconnect.
  virtual bool OnIdle() { return true; }
};

class BinlogStream {
 public:
  explicit BinlogStream(StreamOptions options);
  ~BinlogStream();
  BinlogStream(const BinlogStream&) = delete;
  BinlogStream& operator=(const BinlogStream&) = delete;

  // Streams until the handler returns false, Stop() is called (both return Ok), or an error that
  // reconnecting cannot fix (purged position: kFailedPrecondition; bad event: kProtocol;
  // attempts exhausted: kBackendUnavailable).
  Status Run(ChangeHandler& handler);

  // Thread-safe: ends Run() promptly.
  void Stop();

  // The GTID position after the last transaction delivered whole (resume point).
  std::string position() const;

  struct Stats {
    std::uint64_t events = 0;
    std::uint64_t rows = 0;
    std::uint64_t transactions = 0;
    std::uint64_t reconnects = 0;
  };
  Stats stats() const { return stats_; }

 private:
  Status Connect();
  Status Stream(ChangeHandler& handler, bool* stop_requested);
  Status HandleEvent(std::string_view event, ChangeHandler& handler, bool* keep_going);
  bool Wanted(const TableMap& t) const;

  void SetClient(std::unique_ptr<mysql::BlockingClient> client);

  StreamOptions options_;
  std::mutex client_mu_;  // guards client_ against Stop() from another thread
  std::unique_ptr<mysql::BlockingClient> client_;
  std::atomic<bool> stop_{false};
  bool checksums_ = true;
  std::map<std::uint32_t, Gtid> position_;  // per domain
  std::map<std::uint64_t, std::shared_ptr<const TableMap>> tables_;
  // The transaction being delivered, and how many of its rows the handler has seen (so a replay
  // after a reconnect skips them).
  std::optional<TransactionInfo> current_;
  Gtid current_gtid_;
  bool current_standalone_ = false;
  std::uint64_t delivered_in_tx_ = 0;
  std::uint64_t seen_in_tx_ = 0;
  std::optional<std::string> replaying_gtid_;
  std::uint64_t skip_rows_ = 0;
  std::uint32_t replica_server_id_;
  Stats stats_;
};

// Parses "0-1-5,1-2-9" into per-domain GTIDs.
Result<std::map<std::uint32_t, Gtid>> ParseGtidPosition(std::string_view position);
std::string FormatGtidPosition(const std::map<std::uint32_t, Gtid>& position);

}  // namespace scion::binlog
