// Online schema change of one table without triggers, like gh-ost and Vitess: a shadow table
// with the target definition, a binlog follower that notes which rows change, a chunked copy in
// primary-key order, verification, and an atomic cut-over that holds the table's writes for
// milliseconds. The old table is kept (renamed) for a revert.
//
// Rows are never read out and written back: both the copy and the catch-up re-read the source
// inside MariaDB (DELETE the keys from the shadow, then INSERT ... SELECT them from the source,
// in one transaction, with consistent reads that lock nothing), so the shadow converges to the
// source whatever the interleaving, a row deleted during the copy is never resurrected, and a
// duplicate on a new unique key is an error, never a silently dropped row.
//
// Thread safety: one thread drives an OnlineAlter; Cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "base/error.h"
#include "migrate/plan.h"
#include "mysql/admin_connection.h"

namespace scion::migrate {

// What a resumed copy needs, handed to AlterOptions::on_checkpoint after each chunk: every
// change before `position` is in the shadow, and the copy is done up to `watermark`.
struct Checkpoint {
  std::string watermark;  // literal of the last copied primary key; empty before the first chunk
  std::string position;   // GTID position to follow the binlog from
  std::uint64_t rows_copied = 0;
  bool copy_done = false;
};

// "<table>_scion_old": where a cut-over parks the previous table (and a deploy a dropped one).
std::string OldTableName(const std::string& table);

struct AlterOptions {
  mysql::ConnectOptions connect;  // the instance, with an account that may ALTER, RENAME and replicate
  std::chrono::milliseconds chunk_target{500};  // a copy chunk should take about this long
  std::uint64_t initial_chunk_rows = 1000;
  std::uint64_t max_chunk_rows = 100000;
  // A chunk's rows at most (by the table's average row length). Binlogged (binlog_copy), the
  // commit that writes them holds up the application's commits (a 16 MB one held them for
  // 100-220 ms); out of the binlog the cap only bounds each transaction (100,000-row chunks
  // copied no faster by hand).
  std::uint64_t max_chunk_bytes = 4 << 20;
  std::uint64_t max_threads_running = 16;  // copy pauses while the instance is busier than this
  int cutover_lock_wait_seconds = 1;      // longest a cut-over attempt may hold or wait for locks
  int cutover_attempts = 5;
  std::chrono::milliseconds cutover_backoff{500};
  int verify_repairs = 3;  // times the same differing rows are copied again before verification fails
  // A single integer key: check each copied chunk while the copy goes on (see VerifyBehindCopy);
  // false: Verify() checks the whole table after the copy. Behind the copy the rows are still
  // in the buffer pool: a quarter of the work of reading both tables again afterwards (measured
  // on 2 cores, a 1M-row table and a 128 MB pool: 0.06 s against 0.24 s per 200k rows).
  bool verify_behind_copy = true;
  // The deferred secondary indexes start building once this share of the estimated rows is
  // copied, alongside the rest of the copy (1: after the copy). See EarlyIndexBuildDue. Unset:
  // after the copy when the table and its shadow fit in a quarter less than the buffer pool,
  // else from half-way. After the copy, a build sorts rows still in memory and the copy runs
  // unhindered (an online build slows it by about 40%): on 2 cores under sysbench's writes at
  // 200 tps with a 1 GB pool, a 1M-row change took 3.5 s against 4.0-4.2 s from half-way. From
  // half-way when they do not fit: with a 128 MB pool both took 4.3-5.9 s (medians 4.8 s), and
  // on a disk throttled to 1,500 write IOPS the application's worst write was 0.6-1.0 s with the
  // build alongside against 1.0-1.4 s after the copy.
  std::optional<double> index_build_at;
  // Whether the copy's chunks are written to the binlog (with @@skip_replication = 1, so that
  // the follower is not sent them). Not by default: written with sql_log_bin = 0 they save the
  // row binlog's CPU and writes (about 220 MB for a 1M-row table) and the commit's two-phase
  // sync (a 1M-row change 20% faster). Only the DDL, the catch-up and the cut-over are in the
  // binlog then, so a replica or a point-in-time restore replaying it would find the new table
  // without the copied rows: set this for an instance that has either (none has yet).
  bool binlog_copy = false;
  // Persists progress (the platform's metadata); a failure to persist stops the copy.
  std::function<Status(const Checkpoint&)> on_checkpoint;
  // false: a failed or cancelled copy leaves the shadow for a later resume (or Abandon()).
  bool drop_shadow_on_failure = true;
  // Fault injection for tests: called at cut-over stages ("rename-queued": the locks are held,
  // the sentry exists, the RENAME waits) with the locking connection's id.
  std::function<void(std::string_view stage, std::uint64_t connection_id)> on_cutover_stage;
  // Fault injection for tests: called by the verification behind the copy, on its thread, just
  // before it compares the range (lower, upper] of a new chunk.
  std::function<void(const std::string& lower, const std::string& upper)> on_behind_copy_range;
};

struct Progress {
  std::string table;
  std::string phase;  // "copy", "catch-up", "verify", "cut-over", "complete"
  std::uint64_t rows_copied = 0;
  std::uint64_t rows_estimate = 0;  // from the table statistics
  double rows_per_second = 0;
  double eta_seconds = -1;  // unknown: -1
  std::uint64_t changes_applied = 0;
  int percent() const;
};

class OnlineAlter {
 public:
  OnlineAlter(AlterOptions options, TablePlan plan);
  // Stops following the binlog; drops the shadow table unless it was cut over.
  ~OnlineAlter();
  OnlineAlter(const OnlineAlter&) = delete;
  OnlineAlter& operator=(const OnlineAlter&) = delete;

  // Checks the change can run online (a primary key that survives, new unique keys that hold on
  // the data), creates the shadow table, follows the binlog and copies every row, catching up
  // as it goes. `on_progress` is called after each chunk.
  // With `resume` (the last checkpoint of an interrupted copy of the same plan) the existing
  // shadow is kept and the copy goes on from the checkpoint; re-applying the binlog from its
  // position is idempotent.
  Status Copy(const std::function<void(const Progress&)>& on_progress = {},
              std::optional<Checkpoint> resume = std::nullopt);

  // The share of the rows copied at which the deferred secondary indexes start building: the
  // option, or the one Copy() chose for the table's size and the buffer pool.
  double index_build_at() const { return index_build_at_; }

  // Removes what an interrupted change left behind: the shadow, and a cut-over sentry (never a
  // real previous table). For a change that cannot be resumed.
  static Status Abandon(const AlterOptions& options, const TablePlan& plan);
  // True when a cut-over of `table` swapped the tables but its caller did not learn it (the
  // process died): the shadow is gone and a real previous table ("<t>_scion_old") is there.
  static bool SwappedBeforeRestart(const AlterOptions& options, const std::string& schema, const std::string& table);

  // Compares source and shadow chunk by chunk without locks (row count and a CRC over the
  // columns both keep with the same type; a chunk that differs is compared again after catching
  // up, since a write may be in flight) and re-copies a chunk that keeps differing, up to
  // `verify_repairs` times. When the copy verified behind itself, only what that left open is
  // compared: ranges that differed then, keys changed since their range matched, and the last
  // chunk. The secondary indexes the copy left out are built meanwhile; it returns once they are.
  Status Verify();

  // Swaps each shadow in for its table, all tables at once: a sentry table and LOCK TABLES hold
  // the tables' writes while the last changes are applied, then one waiting RENAME per table
  // takes over, and no statement sees some tables swapped and others not. A lock that cannot be
  // had within the wait (a long transaction) is retried with backoff, then refused with a clear
  // error; writes are never answered with errors, only held. All `alters` share one schema.
  static Status CutOver(const std::vector<OnlineAlter*>& alters);
  Status CutOver() { return CutOver({this}); }

  // After CutOver(): keeps the previous table (old_table()) in sync with the new one, applying
  // every change through the same column mapping in reverse, on a thread of its own, until
  // Revert() or SkipRevert().
  Status StartRevertSync();
  // Cuts back over to the previous table, with every write made since the deploy; the new table
  // is parked as shadow_table() and dropped with this object. Refused with the reason when a row
  // does not fit the old definition.
  // Several tables revert together, like CutOver(alters).
  static Status Revert(const std::vector<OnlineAlter*>& alters);
  Status Revert() { return Revert({this}); }
  // Ends the revert window: stops the sync and drops the previous table.
  Status SkipRevert();
  // The first error of the revert sync (e.g. a value too wide for the old column), if any.
  std::optional<Error> revert_error() const;

  // Applies the changes collected since the last call to the shadow (a gated deploy keeps its
  // shadows in sync this way while it waits for its cut-over).
  Status CatchUp();

  // Ends Copy() or Verify() soon with kConflict ("cancelled"). Thread-safe.
  void Cancel() { cancelled_ = true; }

  const TablePlan& plan() const { return plan_; }
  const std::string& shadow_table() const { return shadow_; }
  const std::string& old_table() const { return old_; }  // after cut-over: the previous table ("<t>_scion_old")
  bool cut_over() const { return cut_over_; }
  // How long the last cut-over (or revert) that swapped this table held its writes.
  std::chrono::milliseconds cutover_held() const { return cutover_held_; }
  Progress progress() const;
  // The secondary index build begun during the copy failed and ran again after it.
  bool index_build_retried() const { return index_retried_; }

  class Follower;
  struct BehindCopy;

 private:
  Status Prepare(const std::optional<Checkpoint>& resume);
  Status CopyChunk(mysql::AdminConnection& conn, std::string& watermark_literal, bool& done);
  // The upper bound of a key range that starts after `lower` and holds about `rows` rows;
  // nullopt: the range is open at the top (the last one).
  Result<std::optional<std::string>> RangeEnd(mysql::AdminConnection& conn, const std::string& lower,
                                              std::uint64_t rows);
  // Starts adding the secondary indexes the copy went without (see deferred_) that the shadow
  // lacks, on a connection and thread of their own; Finish waits for them (Verify and CutOver
  // call it).
  // `early`: during the copy; a failure is then retried once after it.
  Status StartDeferredIndexes(bool early = false);
  Status FinishDeferredIndexes();
  // Whether the copy has come far enough to start the deferred indexes (index_build_at), and
  // the rows left would fit InnoDB's online log.
  bool EarlyIndexBuildDue() const;
  Result<std::uint64_t> CopyRange(mysql::AdminConnection& conn, const std::string& lower, const std::string& upper,
                                  bool unsent = false);
  std::vector<std::string> PkCharsets() const;
  enum class ApplyMode {
    kOwnTransaction,   // BEGIN ... COMMIT around each batch
    kUnderLockTables,  // the cut-over: no transaction (BEGIN would release the table locks)
  };
  // Forward: one catch-up step (ApplyStep). Under the cut-over's locks, or in a revert window:
  // every key delivered or waiting, applied now.
  Status ApplyPending(mysql::AdminConnection& conn, ApplyMode mode);
  // `wrote`: set when the statements changed rows (so the commit was binlogged).
  Status ApplyKeys(mysql::AdminConnection& conn, const std::vector<std::string>& keys, ApplyMode mode,
                   bool* wrote = nullptr);
  // One step of the forward catch-up, in one transaction per kApplyBatch keys: applies the
  // keys in settled_, and takes every key the follower has delivered into unsettled_. The
  // step's commit (or, when it wrote nothing, a marker's) is their barrier: they move to
  // settled_, to be applied by the next step. Each key is read once, after its change is
  // visible (see the comment at ApplyStep).
  enum class StepMode {
    kTake,        // as above
    kSettled,     // applies settled_ only; what was delivered stays with the follower
    kEverything,  // also applies the keys just taken (for a comparison that follows), and again
                  // in the next step
  };
  Status ApplyStep(mysql::AdminConnection& conn, StepMode mode = StepMode::kTake);
  // Steps until every key delivered before the call has been applied.
  Status ApplyDelivered(mysql::AdminConnection& conn);
  static Status CutOverAttempt(std::vector<OnlineAlter*>& alters, int attempt);
  // Before a cut-over attempt locks: applies what was delivered, so that the locks are held
  // only for the changes of the last moments.
  Status SettleBeforeLocking();
  // A binlogged commit of ours: one row copied again. Once it returns, every change the
  // follower delivered before it is visible (see ApplyStep). False when there was no row to
  // copy, so nothing was binlogged.
  Result<bool> Marker(mysql::AdminConnection& conn);
  Status Throttle();
  // Row count and CRC of the rows `where` selects, in the source (on `a`) and the shadow (on
  // `b`), both at once when `parallel`: true when they agree.
  Result<bool> CheckWhere(mysql::AdminConnection& a, mysql::AdminConnection& b, const std::string& where,
                          bool parallel = true) const;
  // Compares the rows `where` selects until they agree, catching up in between; calls `repair`
  // when they keep differing, and fails after `verify_repairs` repairs of the same rows.
  Status VerifyWhere(const std::string& where, const std::function<Status()>& repair, int& repairs);
  // Verifies (lower, stop] (to the end when `stop` is nullopt) chunk by chunk.
  Status VerifyRanges(std::string lower, const std::optional<std::string>& stop, int& repairs);
  // Verifies rows by key; a batch that keeps differing is applied again.
  Status VerifyKeys(const std::vector<std::string>& keys, int& repairs);
  // Verification behind the copy, on a thread and two connections of its own: after each
  // chunk and the catch-up that follows it, the chunk is compared in small ranges. A range
  // that differs (a write not applied yet) is compared again after the next chunk; ranges that
  // still differ when the copy ends, and the keys applied after their range was compared, are
  // left to Verify(). Started by Copy() for a single integer key.
  Status StartVerifyBehindCopy(const std::string& from);
  void VerifyBehindCopy();
  // Stops that thread and hands over what it found (nullptr when it did not run).
  std::unique_ptr<BehindCopy> StopVerifyBehindCopy();
  // Hands a copied chunk (lower, upper] of `rows` rows to the verification behind the copy.
  void QueueBehindCopy(const std::string& lower, const std::string& upper, std::uint64_t rows);
  // Notes applied keys that verification behind the copy may have compared already.
  void NoteApplied(const std::vector<std::string>& keys);
  std::string RangeWhere(const std::string& lower, const std::string& upper) const;
  std::string CopyStatement(const std::string& where) const;
  Status WaitCaughtUp(const std::string& position, std::chrono::milliseconds timeout);

  AlterOptions options_;
  TablePlan plan_;
  std::string shadow_, old_;
  std::vector<std::string> pk_;           // primary key columns of the source
  std::vector<std::string> pk_types_;     // their types, for literals
  std::vector<std::string> copy_columns_; // columns copied (in both, not generated)
  // The checksum of a row over the copied columns whose values read back the same ("0": none).
  std::string crc_ = "0";
  std::unique_ptr<mysql::AdminConnection> conn_;
  std::unique_ptr<mysql::AdminConnection> conn2_;  // the shadow's checksums, alongside the source's
  std::unique_ptr<Follower> follower_;
  // Where changes are applied (the shadow; the previous table during a revert window), which
  // table a cut-over brings in, and the name the current one is parked under.
  const std::string& target() const { return reverse_ ? old_ : shadow_; }
  const std::string& incoming() const { return reverse_ ? old_ : shadow_; }
  const std::string& parked() const { return reverse_ ? shadow_ : old_; }
  void StopRevertSync();

  bool reverse_ = false;
  std::string cutover_position_;  // binlog position read while the cut-over held the locks
  std::chrono::milliseconds cutover_held_{0};
  std::thread revert_thread_;
  std::atomic<bool> revert_stop_{false};
  mutable std::mutex revert_mu_;
  std::optional<Error> revert_error_;  // guarded by revert_mu_
  std::uint64_t chunk_rows_ = 1000;
  std::uint64_t max_chunk_rows_ = 100000;  // options_.max_chunk_rows, or less for wide rows
  bool int_pk_ = false;       // one integer key column: ranges are found by arithmetic
  double key_density_ = 1.0;  // rows per key value, measured as the copy goes
  __int128 max_key_ = 0;      // the largest key seen; refreshed when a range reaches it
  // Plain secondary indexes of the target, left out of the shadow while it is filled (rows
  // into an index are cheaper sorted at the end than inserted one by one) and added after.
  std::vector<schema::Index> deferred_;
  std::thread index_thread_;
  Status index_status_ = Ok();      // written by index_thread_, read after joining it
  std::string index_connection_id_;  // the building connection, to stop it
  bool index_early_ = false;         // the build running (or last run) began during the copy
  bool index_retried_ = false;       // an early build failed and ran again after the copy
  std::uint64_t online_log_max_ = 128 << 20;  // @@innodb_online_alter_log_max_size
  double index_build_at_ = 1.0;                 // options_.index_build_at, or the one chosen in Prepare
  std::unique_ptr<BehindCopy> behind_;
  // The forward catch-up's keys (see ApplyStep). settled_: taken from the follower before a
  // binlogged commit of ours that has since committed, so reading their rows now sees their
  // changes. unsettled_: taken since. Each is paired with the follower's position read just
  // before the keys were last taken into it; applied_at_: every change delivered before it is
  // applied behind a barrier (a checkpoint's position).
  std::set<std::string> settled_, unsettled_;
  std::string settled_at_, unsettled_at_, applied_at_;
  // A revert window's keys: its apply (an upsert that keeps the columns the new table
  // dropped) runs as soon as keys arrive, and may read a row a moment before its change is
  // visible, so every key applied is applied once more under the revert's locks.
  std::set<std::string> reapply_;
  std::atomic<bool> cancelled_{false};
  bool shadow_created_ = false;
  bool cut_over_ = false;
  Progress progress_;
};

}  // namespace scion::migrate
