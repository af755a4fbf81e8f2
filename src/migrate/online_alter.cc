#include "migrate/online_alter.h"

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/crypto.h"
#include "base/log.h"
#include "binlog/stream.h"
#include "mysql/protocol.h"

namespace scion::migrate {
namespace {

using mysql::QuoteIdentifier;
using mysql::QuoteString;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kApplyBatch = 500;  // keys per catch-up transaction
// Rows per range compared behind the copy: small, so that a write in flight spoils little.
constexpr std::uint64_t kBehindRangeRows = 2000;
// Keys changed after their range was compared behind the copy that Verify() compares by key;
// past this many it compares the whole table instead.
constexpr std::size_t kBehindMaxTouched = 200000;

// Calls `f` with `keys` in consecutive batches of at most `n`; stops at the first error.
template <typename F>
Status ForEachBatch(const std::vector<std::string>& keys, std::size_t n, F&& f) {
  for (std::size_t i = 0; i < keys.size(); i += n) {
    std::vector<std::string> batch(keys.begin() + static_cast<std::ptrdiff_t>(i),
                                   keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), i + n)));
    SCION_TRY(f(batch));
  }
  return Ok();
}

// How a primary-key value is written as a literal the index can use.
enum class LiteralKind { kNumber, kString, kBinary, kQuoted };

LiteralKind KindOf(const std::string& type) {
  auto starts = [&](std::string_view p) { return type.rfind(p, 0) == 0; };
  if (starts("tinyint") || starts("smallint") || starts("mediumint") || starts("int") || starts("bigint") ||
      starts("decimal") || starts("float") || starts("double") || starts("bit") || starts("year")) {
    return LiteralKind::kNumber;
  }
  if (starts("binary") || starts("varbinary") || type.find("blob") != std::string::npos) return LiteralKind::kBinary;
  if (starts("char") || starts("varchar") || type.find("text") != std::string::npos) return LiteralKind::kString;
  return LiteralKind::kQuoted;  // temporal, enum, set: their text
}

// Integer types by width, 1 (tinyint) to 5 (bigint); 0 for any other type.
int IntegerWidth(const std::string& type) {
  int width = 0;
  for (std::string_view p : {"tinyint", "smallint", "mediumint", "int", "bigint"}) {
    ++width;
    if (type.rfind(p, 0) == 0 && (type.size() == p.size() || type[p.size()] == ' ' || type[p.size()] == '(')) return width;
  }
  return 0;
}

bool IsIntegerType(const std::string& type) { return IntegerWidth(type) > 0; }

// Whether every value of `from`, once copied into `to`, reads back as the same text: the same
// type, an integer widened, or a string lengthened in the same kind, charset and collation.
// Such columns are compared by verification; others (a float narrowed, a decimal rescaled) are
// not, as their text changes by design.
bool SameTextWhenCopied(const schema::Column& from, const schema::Column& to) {
  if (from.charset != to.charset || from.collation != to.collation) return false;
  if (from.type == to.type) return true;
  int a = IntegerWidth(from.type), b = IntegerWidth(to.type);
  auto has = [](const std::string& t, std::string_view word) { return t.find(word) != std::string::npos; };
  if (a && b) {
    if (has(from.type, "zerofill") || has(to.type, "zerofill")) return false;
    bool a_unsigned = has(from.type, "unsigned"), b_unsigned = has(to.type, "unsigned");
    return a_unsigned == b_unsigned ? b >= a : (a_unsigned && b > a);
  }
  // char(n) to char(m) and varchar(n) to varchar(m), m >= n (CHAR to VARCHAR would keep
  // trailing spaces CHAR drops on reading; the other way round drops them).
  auto length = [](const std::string& t, std::string_view kind) -> std::optional<long> {
    if (t.rfind(kind, 0) != 0 || t.size() < kind.size() + 3 || t[kind.size()] != '(' || t.back() != ')') return std::nullopt;
    try {
      return std::stol(t.substr(kind.size() + 1));
    } catch (...) {
      return std::nullopt;
    }
  };
  for (std::string_view kind : {"char", "varchar"}) {
    auto n = length(from.type, kind), m = length(to.type, kind);
    if (n && m) return *m >= *n;
  }
  return false;
}

using KeyInt = __int128;  // any BIGINT, signed or not, and room above and below

// An integer key as MariaDB prints it; nullopt for anything else.
std::optional<KeyInt> ParseKey(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool negative = text[0] == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 20) return std::nullopt;
  KeyInt v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

std::string KeyLiteral(KeyInt v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  std::string digits;
  for (KeyInt a = negative ? -v : v; a > 0; a /= 10) digits.insert(digits.begin(), static_cast<char>('0' + a % 10));
  return negative ? "-" + digits : digits;
}

// The copy's and verification's connections: a statement may take long on a big table under
// load (the check of a new unique key scans it all), so replies may take up to an hour.
mysql::ConnectOptions WorkOptions(mysql::ConnectOptions o) {
  o.read_timeout = std::chrono::hours(1);
  return o;
}

// The comment that tells a cut-over's sentry table from a real table of the same name.
constexpr std::string_view kSentryComment = "scion cut-over sentry";

std::string Qualified(const std::string& schema, const std::string& table) {
  return QuoteIdentifier(schema) + "." + QuoteIdentifier(table);
}

// A name derived from `table` that fits MariaDB's 64-character limit and sorts after `table`.
// The order matters for the cut-over: RENAME takes its metadata locks in name order, so it must
// queue for `table` before anything else. Were it queued for the shadow first, a write waiting
// for `table` would be granted the moment the cut-over unlocks, ahead of the RENAME, and land in
// the old table.
std::string DerivedName(const std::string& table, std::string_view suffix) {
  if (table.size() + suffix.size() <= 64) return table + std::string(suffix);
  return table.substr(0, 64 - suffix.size() - 1) + "~" + std::string(suffix);
}

std::string JoinQuoted(const std::vector<std::string>& names, std::string_view prefix = "") {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + std::string(prefix) + QuoteIdentifier(n);
  return out;
}

Result<std::string> CurrentPosition(mysql::AdminConnection& conn) {
  SCION_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT @@gtid_binlog_pos"));
  if (r.rows.empty() || !r.rows[0][0]) return std::string();
  return *r.rows[0][0];
}

// Drops `name` when it is a cut-over sentry left by an interrupted attempt (never a real table).
Status DropSentry(mysql::AdminConnection& conn, const std::string& schema, const std::string& name) {
  SCION_ASSIGN_OR_RETURN(auto r, conn.Query(fmt::format(
                                     "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND "
                                     "TABLE_NAME = {} AND TABLE_COMMENT = {}",
                                     QuoteString(schema), QuoteString(name), QuoteString(kSentryComment))));
  if (r.rows.empty() || r.rows[0][0].value_or("0") == "0") return Ok();
  return conn.Execute(fmt::format("DROP TABLE {}", Qualified(schema, name)));
}

}  // namespace

std::string OldTableName(const std::string& table) { return DerivedName(table, "_scion_old"); }

int Progress::percent() const {
  if (phase == "complete") return 100;
  if (rows_estimate == 0) return phase == "copy" ? 0 : 99;
  return static_cast<int>(std::min<std::uint64_t>(99, rows_copied * 100 / rows_estimate));
}

// Follows the binlog from a position and collects the primary keys of changed rows of one
// table, as literals ready for an IN list.
class OnlineAlter::Follower : public binlog::ChangeHandler {
 public:
  Follower(binlog::StreamOptions options, std::vector<std::string> pk, std::vector<LiteralKind> kinds,
           std::vector<std::string> charsets)
      : stream_(std::move(options)), pk_(std::move(pk)), kinds_(std::move(kinds)), charsets_(std::move(charsets)) {}

  ~Follower() override { Stop(); }

  void Start(const std::string& from) {
    position_ = from;
    thread_ = std::thread([this] {
      auto st = stream_.Run(*this);
      std::lock_guard lock(mu_);
      if (!st) error_ = st.error();
      ended_ = true;
      cv_.notify_all();
    });
  }

  void Stop() {
    stream_.Stop();
    if (thread_.joinable()) thread_.join();
  }

  bool OnRow(const binlog::RowChange& change) override {
    auto& idx = indexes_[change.table->table_id];
    if (idx.empty()) {
      for (const auto& name : pk_) {
        auto it = std::find_if(change.table->columns.begin(), change.table->columns.end(),
                               [&](const binlog::Column& c) { return c.name == name; });
        if (it == change.table->columns.end()) {
          std::lock_guard lock(mu_);
          error_ = Error{ErrorCode::kFailedPrecondition,
                         fmt::format("the binlog has no column {} for table {} (binlog_row_metadata=FULL is needed)",
                                     name, change.table->table)};
          return false;
        }
        idx.push_back(static_cast<std::size_t>(it - change.table->columns.begin()));
      }
    }
    std::lock_guard lock(mu_);
    for (const auto* image : {change.before, change.after}) {
      if (image == nullptr || image->empty()) continue;
      std::string key;
      for (std::size_t i = 0; i < idx.size(); ++i) key += (i ? ", " : "") + Literal(i, (*image)[idx[i]]);
      pending_.insert(std::move(key));
    }
    return true;
  }

  bool OnCommit(const binlog::TransactionInfo&, const std::string& position) override {
    std::lock_guard lock(mu_);
    position_ = position;
    cv_.notify_all();
    return true;
  }

  // A transaction of ours the server does not send (written with @@skip_replication = 1, see
  // StreamOptions::skip_marked): waiting for a position counts it as seen once everything
  // before it in its domain has been.
  void NoteSkipped(const std::string& gtid) {
    auto g = binlog::ParseGtidPosition(gtid);
    if (!g) return;
    std::lock_guard lock(mu_);
    for (const auto& [domain, id] : *g) skipped_[domain].insert(id.seq);
    cv_.notify_all();
  }

  // Waits until the follower has seen `target`, an error, or `timeout`.
  Status WaitFor(const std::string& target, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    bool ok = cv_.wait_for(lock, timeout, [&] { return ended_ || Reached(target); });
    if (error_) return std::unexpected(*error_);
    if (ended_) return MakeError(ErrorCode::kBackendUnavailable, "the binlog follower stopped");
    if (!ok) return MakeError(ErrorCode::kUnavailable, fmt::format("the binlog follower did not reach {} in time", target));
    return Ok();
  }

  std::vector<std::string> Drain(std::size_t max) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    while (!pending_.empty() && out.size() < max) out.push_back(pending_.extract(pending_.begin()).value());
    return out;
  }

  // Puts keys back (an apply that failed must not forget them).
  void Restore(const std::vector<std::string>& keys) {
    std::lock_guard lock(mu_);
    for (const auto& k : keys) pending_.insert(k);
  }

  std::string position() const {
    std::lock_guard lock(mu_);
    return position_;
  }

  Status status() const {
    std::lock_guard lock(mu_);
    if (error_) return std::unexpected(*error_);
    return Ok();
  }

 private:
  // position_, or past it in a domain where the transactions right after it are skipped ones.
  bool Reached(const std::string& target) {
    auto want = binlog::ParseGtidPosition(target);
    auto have = binlog::ParseGtidPosition(position_);
    if (!want || !have) return false;
    for (const auto& [domain, gtid] : *want) {
      auto it = have->find(domain);
      std::uint64_t seq = it == have->end() ? 0 : it->second.seq;
      auto& skipped = skipped_[domain];
      skipped.erase(skipped.begin(), skipped.upper_bound(seq));  // seen past them
      for (auto s = skipped.begin(); s != skipped.end() && *s == seq + 1; ++s) ++seq;
      if (seq < gtid.seq) return false;
    }
    return true;
  }

  std::string Literal(std::size_t i, const binlog::Value& v) const {
    if (v.is_null()) return "NULL";
    switch (kinds_[i]) {
      case LiteralKind::kNumber:
        return v.ToCanonical();
      case LiteralKind::kString:
        return fmt::format("_{} X'{}'", charsets_[i], HexEncode(v.s));
      case LiteralKind::kBinary:
        return fmt::format("X'{}'", HexEncode(v.s));
      case LiteralKind::kQuoted:
        return QuoteString(v.ToCanonical());
    }
    return "NULL";
  }

  binlog::BinlogStream stream_;
  std::vector<std::string> pk_;
  std::vector<LiteralKind> kinds_;
  std::vector<std::string> charsets_;
  std::map<std::uint64_t, std::vector<std::size_t>> indexes_;  // stream thread only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> pending_;  // guarded by mu_
  std::string position_;           // guarded by mu_
  std::map<std::uint32_t, std::set<std::uint64_t>> skipped_;  // per domain; guarded by mu_
  std::optional<Error> error_;     // guarded by mu_
  bool ended_ = false;             // guarded by mu_
  std::thread thread_;
};

// The state of the verification behind the copy. The thread's connections are its own.
struct OnlineAlter::BehindCopy {
  struct Chunk {
    std::string lower, upper;  // (lower, upper]; lower "" = from the first key
    std::uint64_t rows = 0;
  };
  std::unique_ptr<mysql::AdminConnection> source, shadow;
  std::string start;  // the copy's watermark when this began: ranges at or below it are not covered
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu:
  std::deque<Chunk> queue;
  bool stop = false;
  bool compared_any = false;
  KeyInt compared_upto = 0;  // no key above this has been compared yet
  std::string covered;       // every range in (start, covered] matched, or is in `differ`
  std::vector<std::pair<std::string, std::string>> differ;  // ranges that differed, to compare again
  std::set<std::string> touched;  // keys applied at or below compared_upto
  bool overflow = false;          // too many touched keys: Verify() compares everything
  std::optional<Error> error;
  std::uint64_t ranges = 0, ranges_differed = 0;
};

OnlineAlter::OnlineAlter(AlterOptions options, TablePlan plan) : options_(std::move(options)), plan_(std::move(plan)) {
  shadow_ = DerivedName(plan_.table, "_scion_new");
  old_ = DerivedName(plan_.table, "_scion_old");
  assert(shadow_ > plan_.table || plan_.table.size() > 53);
  progress_.table = plan_.table;
}

OnlineAlter::~OnlineAlter() {
  StopRevertSync();
  StopVerifyBehindCopy();
  if (index_thread_.joinable()) {
    // Abandoned while the indexes build (a failure or a cancel): stop the ALTER, then drop.
    if (conn_ && !index_connection_id_.empty()) (void)conn_->Execute("KILL QUERY " + index_connection_id_);
    index_thread_.join();
  }
  if (follower_) follower_->Stop();
  if (shadow_created_ && !cut_over_ && conn_ && (options_.drop_shadow_on_failure || reverse_)) {
    (void)conn_->Execute(fmt::format("DROP TABLE IF EXISTS {}", Qualified(plan_.schema, shadow_)));
  }
}

Progress OnlineAlter::progress() const { return progress_; }

Status OnlineAlter::Prepare(const std::optional<Checkpoint>& resume) {
  const auto& from = plan_.from;
  const auto& to = plan_.to;
  if (!(shadow_ > plan_.table) || !(old_ > plan_.table)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("table name {} is too long for an online change", plan_.table),
                     "rename the table to 53 characters or fewer");
  }
  auto pk = from.indexes.find("PRIMARY");
  if (pk == from.indexes.end()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("table {} has no primary key: an online copy needs one", plan_.table),
                     "add a primary key first");
  }
  for (const auto& part : pk->second.parts) {
    const schema::Column* c = from.FindColumn(part.column);
    const schema::Column* n = to.FindColumn(part.column);
    if (!c || !n || !n->generation.empty()) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("the change drops primary key column {}.{}, which an online copy cannot follow",
                                   plan_.table, part.column));
    }
    pk_.push_back(part.column);
    pk_types_.push_back(c->type);
  }
  std::string crc_parts;
  for (const auto& n : to.columns) {
    const schema::Column* c = from.FindColumn(n.name);
    if (!c || !n.generation.empty() || !c->generation.empty()) continue;
    copy_columns_.push_back(n.name);
    if (!SameTextWhenCopied(*c, n)) continue;
    // CONCAT_WS skips NULLs, so a column nullable on either side adds ISNULL() to tell
    // (NULL, 'a') from ('a', NULL); one NOT NULL on both does without (a third less CPU for the
    // CRC of a sysbench row).
    std::string q = QuoteIdentifier(n.name);
    crc_parts += (crc_parts.empty() ? "" : ", ") + (c->nullable || n.nullable ? fmt::format("{0}, ISNULL({0})", q) : q);
  }
  if (!crc_parts.empty()) crc_ = fmt::format("BIT_XOR(CRC32(CONCAT_WS('#', {})))", crc_parts);
  int_pk_ = pk_.size() == 1 && IsIntegerType(pk_types_[0]);
  for (const auto& [name, index] : to.indexes) {
    if (index.kind != schema::IndexKind::kIndex || index.parts.empty()) continue;
    // Kept from the start: the index an AUTO_INCREMENT column needs, and indexes over generated columns.
    bool plain = true;
    for (const auto& part : index.parts) {
      const schema::Column* c = to.FindColumn(part.column);
      plain = plain && c && c->generation.empty() && !(c->auto_increment && &part == &index.parts.front());
    }
    if (plain) deferred_.push_back(index);
  }
  SCION_ASSIGN_OR_RETURN(conn_, mysql::AdminConnection::Connect(WorkOptions(options_.connect)));
  SCION_TRY(conn_->Execute("SET SESSION time_zone = '+00:00'"));
  // Consistent (non-locking) reads of the source: the copy takes no lock an application
  // transaction could deadlock with. See CopyStatement for why that is safe.
  SCION_TRY(conn_->Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
  SCION_TRY(conn_->Execute(fmt::format("USE {}", QuoteIdentifier(plan_.schema))));
  SCION_ASSIGN_OR_RETURN(conn2_, mysql::AdminConnection::Connect(WorkOptions(options_.connect)));
  for (const char* sql : {"SET SESSION time_zone = '+00:00'", "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"}) {
    SCION_TRY(conn2_->Execute(sql));
  }
  SCION_TRY(conn2_->Execute(fmt::format("USE {}", QuoteIdentifier(plan_.schema))));

  // New unique keys must already hold on the data.
  for (const auto& [name, index] : to.indexes) {
    if (index.kind != schema::IndexKind::kUnique) continue;
    auto old = from.indexes.find(name);
    if (old != from.indexes.end() && old->second.kind == index.kind && old->second.parts == index.parts) continue;
    std::vector<std::string> cols;
    bool all_old = true;
    for (const auto& p : index.parts) {
      cols.push_back(p.column);
      all_old = all_old && from.FindColumn(p.column) != nullptr;
    }
    if (!all_old) continue;  // over a new column: its default decides, checked by the copy itself
    std::string list = JoinQuoted(cols);
    SCION_ASSIGN_OR_RETURN(auto dup, conn_->Query(fmt::format(
                                         "SELECT {}, COUNT(*) FROM {} WHERE {} GROUP BY {} HAVING COUNT(*) > 1 LIMIT 1",
                                         list, QuoteIdentifier(plan_.table),
                                         [&] {
                                           std::string w;
                                           for (const auto& c : cols) {
                                             w += (w.empty() ? "" : " AND ") + QuoteIdentifier(c) + " IS NOT NULL";
                                           }
                                           return w;
                                         }(),
                                         list)));
    if (!dup.rows.empty()) {
      std::string values;
      for (std::size_t i = 0; i < cols.size(); ++i) values += (i ? ", " : "") + dup.rows[0][i].value_or("NULL");
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("the new unique key {} on {} does not hold: ({}) appears {} times", name,
                                   plan_.table, values, dup.rows[0][cols.size()].value_or("?")),
                       "remove the duplicates first, or make the key non-unique");
    }
  }

  std::string start;
  if (resume) {
    SCION_ASSIGN_OR_RETURN(auto exists, conn_->Query(fmt::format(
                                            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND "
                                            "TABLE_NAME = {}",
                                            QuoteString(plan_.schema), QuoteString(shadow_))));
    if (exists.rows.empty() || exists.rows[0][0].value_or("0") == "0") {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("cannot resume the change of {}: its shadow table is gone", plan_.table),
                       "start the change over");
    }
    SCION_TRY(DropSentry(*conn_, plan_.schema, old_));
    shadow_created_ = true;
    start = resume->position;
  } else {
    // Leftovers of an earlier attempt go; then the shadow with the target definition.
    SCION_TRY(conn_->Execute(fmt::format("DROP TABLE IF EXISTS {}", QuoteIdentifier(shadow_))));
    SCION_ASSIGN_OR_RETURN(start, CurrentPosition(*conn_));
    SCION_TRY(conn_->Execute(
        fmt::format("CREATE TABLE {} LIKE {}", QuoteIdentifier(shadow_), QuoteIdentifier(plan_.table))));
    shadow_created_ = true;
    std::string clauses;
    for (const auto& c : plan_.clauses) clauses += (clauses.empty() ? "" : ", ") + c;
    SCION_TRY(conn_->Execute(fmt::format("ALTER TABLE {} {}", QuoteIdentifier(shadow_), clauses)));
    std::string drops;
    for (const auto& index : deferred_) drops += (drops.empty() ? "" : ", ") + ("DROP INDEX " + QuoteIdentifier(index.name));
    if (!drops.empty()) SCION_TRY(conn_->Execute(fmt::format("ALTER TABLE {} {}", QuoteIdentifier(shadow_), drops)));
  }

  std::vector<LiteralKind> kinds;
  std::vector<std::string> charsets;
  for (std::size_t i = 0; i < pk_.size(); ++i) {
    kinds.push_back(KindOf(pk_types_[i]));
    const schema::Column* c = from.FindColumn(pk_[i]);
    charsets.push_back(!c->charset.empty() ? c->charset : (!from.charset.empty() ? from.charset : "utf8mb4"));
  }
  binlog::StreamOptions so{.endpoint = options_.connect.unix_socket,
                           .user = options_.connect.user,
                           .password = options_.connect.password,
                           .start_position = start,
                           .schemas = {plan_.schema},
                           .tables = {plan_.table},
                           // The copy's own transactions only write the shadow: not sent at all.
                           .skip_marked = true};
  follower_ = std::make_unique<Follower>(std::move(so), pk_, kinds, charsets);
  follower_->Start(start);
  settled_at_ = unsettled_at_ = applied_at_ = start;
  SCION_ASSIGN_OR_RETURN(auto est, conn_->Query(fmt::format(
                                       "SELECT TABLE_ROWS, AVG_ROW_LENGTH, DATA_LENGTH + INDEX_LENGTH FROM "
                                       "information_schema.TABLES WHERE "
                                       "TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                                       QuoteString(plan_.schema), QuoteString(plan_.table))));
  if (!est.rows.empty() && est.rows[0][0]) progress_.rows_estimate = std::stoull(*est.rows[0][0]);
  SCION_ASSIGN_OR_RETURN(auto sizes,
                         conn_->Query("SELECT @@innodb_online_alter_log_max_size, @@innodb_buffer_pool_size"));
  if (!sizes.rows.empty() && sizes.rows[0][0]) online_log_max_ = std::stoull(*sizes.rows[0][0]);
  max_chunk_rows_ = std::max<std::uint64_t>(options_.max_chunk_rows, 1);
  // A chunk's rows are written to the binlog at its commit, which other commits wait for.
  std::uint64_t row_bytes = est.rows.empty() || !est.rows[0][1] ? 0 : std::stoull(*est.rows[0][1]);
  if (!copy_columns_.empty()) {
    // The statistics lag (a table just filled has the length of an empty one spread over its
    // rows): the first rows' length, when larger.
    std::string lengths;
    for (const auto& c : copy_columns_) lengths += (lengths.empty() ? "" : " + ") + fmt::format("COALESCE(LENGTH({}), 0)", QuoteIdentifier(c));
    SCION_ASSIGN_OR_RETURN(auto sample, conn_->Query(fmt::format("SELECT CEIL(AVG(n)) FROM (SELECT {} AS n FROM {} LIMIT 1000) s",
                                                                 lengths, QuoteIdentifier(plan_.table))));
    if (!sample.rows.empty() && sample.rows[0][0]) row_bytes = std::max<std::uint64_t>(row_bytes, std::stoull(*sample.rows[0][0]));
  }
  if (row_bytes > 0) {
    max_chunk_rows_ = std::min(max_chunk_rows_, std::max<std::uint64_t>(options_.max_chunk_bytes / row_bytes, 100));
  }
  if (options_.index_build_at) {
    index_build_at_ = *options_.index_build_at;
  } else {
    // The table's size on disk, or its rows' when the statistics lag behind a table just filled.
    double table_bytes = std::max(est.rows.empty() || !est.rows[0][2] ? 0.0 : std::stod(*est.rows[0][2]),
                                  static_cast<double>(progress_.rows_estimate) * static_cast<double>(row_bytes));
    double pool = sizes.rows.empty() || !sizes.rows[0][1] ? 0.0 : std::stod(*sizes.rows[0][1]);
    index_build_at_ = 2 * table_bytes <= 0.75 * pool ? 1.0 : 0.5;
    spdlog::info("msg=\"index build planned\" table={} table_mb={:.0f} buffer_pool_mb={:.0f} at={}", plan_.table,
                  table_bytes / (1 << 20), pool / (1 << 20), index_build_at_);
  }
  if (int_pk_) {
    std::string key = QuoteIdentifier(pk_[0]);
    SCION_ASSIGN_OR_RETURN(auto range, conn_->Query(fmt::format("SELECT MIN({0}), MAX({0}) FROM {1}", key,
                                                                QuoteIdentifier(plan_.table))));
    auto lo = range.rows.empty() || !range.rows[0][0] ? std::nullopt : ParseKey(*range.rows[0][0]);
    auto hi = range.rows.empty() || !range.rows[0][1] ? std::nullopt : ParseKey(*range.rows[0][1]);
    if (lo && hi) {
      max_key_ = *hi;
      double span = static_cast<double>(*hi - *lo) + 1;
      // No statistics (a table just filled): dense, the safe guess (small first ranges); the
      // first chunk measures it.
      key_density_ = progress_.rows_estimate == 0
                         ? 1.0
                         : std::clamp(static_cast<double>(progress_.rows_estimate) / span, 1e-12, 1.0);
    }
  }
  return Ok();
}

std::string OnlineAlter::RangeWhere(const std::string& lower, const std::string& upper) const {
  std::string key = pk_.size() == 1 ? QuoteIdentifier(pk_[0]) : "(" + JoinQuoted(pk_) + ")";
  std::string w;
  if (!lower.empty()) w = fmt::format("{} > {}", key, pk_.size() == 1 ? lower : "(" + lower + ")");
  if (!upper.empty()) {
    w += (w.empty() ? "" : " AND ") + fmt::format("{} <= {}", key, pk_.size() == 1 ? upper : "(" + upper + ")");
  }
  return w.empty() ? "1" : w;
}

// A consistent read of the source may miss a change committed while it runs, but that change's
// binlog event is applied afterwards: chunks and catch-up steps run one after the other on one
// connection, and every key the follower delivers is read from the source again once its change
// is visible (see ApplyStep). So the target converges without locking the source (locks there
// would deadlock with application transactions, which InnoDB would then choose as victims).
std::string OnlineAlter::CopyStatement(const std::string& where) const {
  return fmt::format("INSERT INTO {} ({}) SELECT {} FROM {} WHERE {}", QuoteIdentifier(target()),
                     JoinQuoted(copy_columns_), JoinQuoted(copy_columns_), QuoteIdentifier(plan_.table), where);
}

// The literal of the key `offset` rows after `lower` (or the last key when fewer remain),
// selected as text or hex so it round-trips whatever the type.
static Result<std::optional<std::string>> KeyAt(mysql::AdminConnection& conn, const std::string& table,
                                                const std::vector<std::string>& pk,
                                                const std::vector<std::string>& types,
                                                const std::vector<std::string>& charsets, const std::string& where,
                                                std::uint64_t offset) {
  std::string select;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    auto kind = KindOf(types[i]);
    std::string col = QuoteIdentifier(pk[i]);
    select += (i ? ", " : "") + (kind == LiteralKind::kString || kind == LiteralKind::kBinary ? "HEX(" + col + ")" : col);
  }
  std::string order = JoinQuoted(pk);
  SCION_ASSIGN_OR_RETURN(auto r, conn.Query(fmt::format("SELECT {} FROM {} FORCE INDEX (PRIMARY) WHERE {} ORDER BY {} "
                                                        "LIMIT 1 OFFSET {}",
                                                        select, QuoteIdentifier(table), where, order, offset)));
  if (r.rows.empty()) return std::optional<std::string>();
  std::string lit;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    std::string v = r.rows[0][i].value_or("NULL");
    switch (KindOf(types[i])) {
      case LiteralKind::kNumber:
        break;
      case LiteralKind::kString:
        v = fmt::format("_{} X'{}'", charsets[i], v);
        break;
      case LiteralKind::kBinary:
        v = fmt::format("X'{}'", v);
        break;
      case LiteralKind::kQuoted:
        v = QuoteString(v);
        break;
    }
    lit += (i ? ", " : "") + v;
  }
  return std::optional<std::string>(lit);
}

// Copies the primary key range (lower, upper] (open-ended when `upper` is empty) into the
// shadow: DELETE then INSERT ... SELECT in one transaction. Returns the rows copied.
// `unsent`: not sent to the follower, which would only drop it (a table it does not follow)
// after reading and checking every event: 220 MB for a 1M-row table. Written with
// @@skip_replication = 1, binlogged as any other, or, without AlterOptions::binlog_copy, not
// binlogged at all (sql_log_bin = 0).
Result<std::uint64_t> OnlineAlter::CopyRange(mysql::AdminConnection& conn, const std::string& lower,
                                             const std::string& upper, bool unsent) {
  std::string where = RangeWhere(lower, upper);
  bool unlogged = unsent && !options_.binlog_copy;
  std::string_view mark = unlogged ? "sql_log_bin" : "skip_replication";
  if (unsent) SCION_TRY(conn.Execute(fmt::format("SET SESSION {} = {}", mark, unlogged ? 0 : 1)));
  auto unmark = [&] { return conn.Execute(fmt::format("SET SESSION {} = {}", mark, unlogged ? 1 : 0)); };
  // Re-copying a range replaces whatever the catch-up put there with the rows as they are now.
  auto st = conn.Execute("BEGIN");
  if (st) st = conn.Execute(fmt::format("DELETE FROM {} WHERE {}", QuoteIdentifier(shadow_), where));
  Status inserted = st ? conn.Execute(CopyStatement(where)) : st;
  std::uint64_t copied = conn.affected_rows();
  if (inserted) st = conn.Execute("COMMIT");
  if (!inserted || !st) {
    (void)conn.Execute("ROLLBACK");
    if (unsent) (void)unmark();
    if (!inserted) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("copying {} failed: {}", plan_.table, inserted.error().message),
                       "the rows do not fit the new definition; fix the data or the change");
    }
    return std::unexpected(st.error());
  }
  if (unsent && !unlogged) {
    SCION_ASSIGN_OR_RETURN(auto gtid, conn.Query("SELECT @@last_gtid"));
    if (!gtid.rows.empty() && gtid.rows[0][0] && follower_) follower_->NoteSkipped(*gtid.rows[0][0]);
  }
  if (unsent) SCION_TRY(unmark());
  return copied;
}

std::vector<std::string> OnlineAlter::PkCharsets() const {
  std::vector<std::string> charsets;
  for (const auto& name : pk_) {
    const schema::Column* c = plan_.from.FindColumn(name);
    charsets.push_back(!c->charset.empty() ? c->charset : (!plan_.from.charset.empty() ? plan_.from.charset : "utf8mb4"));
  }
  return charsets;
}

// A single-column integer key is split by arithmetic (no scan to find where a range ends);
// any other key by the key `rows` rows on. Returns nullopt for a range open at the top.
Result<std::optional<std::string>> OnlineAlter::RangeEnd(mysql::AdminConnection& conn, const std::string& lower,
                                                         std::uint64_t rows) {
  if (!int_pk_) {
    return KeyAt(conn, plan_.table, pk_, pk_types_, PkCharsets(), RangeWhere(lower, ""), std::max<std::uint64_t>(rows, 1) - 1);
  }
  std::string key = QuoteIdentifier(pk_[0]);
  // Skip a gap: the range starts just below the next key there is.
  SCION_ASSIGN_OR_RETURN(auto first, conn.Query(fmt::format("SELECT MIN({}) FROM {} WHERE {}", key,
                                                            QuoteIdentifier(plan_.table), RangeWhere(lower, ""))));
  if (first.rows.empty() || !first.rows[0][0]) return std::optional<std::string>();
  auto lo = ParseKey(*first.rows[0][0]);
  if (!lo) return MakeError(ErrorCode::kInternal, fmt::format("unexpected key {} in {}", *first.rows[0][0], plan_.table));
  std::int64_t span = static_cast<std::int64_t>(std::clamp(static_cast<double>(rows) / key_density_, 1.0, 4e18));
  KeyInt hi = *lo - 1 + span;
  if (hi >= max_key_) {
    // Rows inserted since the copy began may lie beyond the key seen then.
    SCION_ASSIGN_OR_RETURN(auto last, conn.Query(fmt::format("SELECT MAX({}) FROM {}", key, QuoteIdentifier(plan_.table))));
    if (!last.rows.empty() && last.rows[0][0]) {
      if (auto m = ParseKey(*last.rows[0][0])) max_key_ = *m;
    }
    if (hi >= max_key_) return std::optional<std::string>();
  }
  return std::optional<std::string>(KeyLiteral(hi));
}

// One key range after the watermark. One connection copies: a second one copying the next
// range alongside was measured no faster (InnoDB serializes inserts into one table's index
// much of the time) and took the CPU the application and the binlog need.
Status OnlineAlter::CopyChunk(mysql::AdminConnection& conn, std::string& watermark, bool& done) {
  SCION_ASSIGN_OR_RETURN(auto upper, RangeEnd(conn, watermark, chunk_rows_));
  auto started = Clock::now();
  SCION_ASSIGN_OR_RETURN(std::uint64_t copied, CopyRange(conn, watermark, upper ? *upper : "", true));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  progress_.rows_copied += copied;
  if (int_pk_ && upper && !watermark.empty() && copied > 0) {
    // Rows per key value: how wide the next ranges must be.
    auto lo = ParseKey(watermark), hi = ParseKey(*upper);
    if (lo && hi && *hi > *lo) {
      key_density_ = std::clamp(static_cast<double>(copied) / static_cast<double>(*hi - *lo), 1e-12, 1.0);
    }
  }
  // Aim at the time target: scale the chunk by how far this one was off, within limits.
  double factor = took.count() > 0 ? static_cast<double>(options_.chunk_target.count()) / took.count() : 2.0;
  factor = std::clamp(factor, 0.5, 2.0);
  chunk_rows_ = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(chunk_rows_ * factor), std::min<std::uint64_t>(100, max_chunk_rows_), max_chunk_rows_);
  if (!upper) {
    done = true;
  } else {
    watermark = *upper;
  }
  return Ok();
}

Status OnlineAlter::ApplyPending(mysql::AdminConnection& conn, ApplyMode mode) {
  if (mode == ApplyMode::kOwnTransaction && !reverse_) return ApplyStep(conn);
  if (mode == ApplyMode::kUnderLockTables) {
    // Under the locks every transaction on the table has finished: every key waiting, of
    // either kind, reads right now.
    for (auto* set : {&settled_, &unsettled_, &reapply_}) {
      follower_->Restore({set->begin(), set->end()});
      set->clear();
    }
  }
  for (;;) {
    auto keys = follower_->Drain(kApplyBatch);
    if (keys.empty()) return Ok();
    SCION_TRY(ForEachBatch(keys, kApplyBatch, [&](const std::vector<std::string>& batch) -> Status {
      SCION_TRY(ApplyKeys(conn, batch, mode));
      NoteApplied(batch);
      return Ok();
    }));
    if (mode != ApplyMode::kUnderLockTables) reapply_.insert(keys.begin(), keys.end());
  }
}

Status OnlineAlter::ApplyKeys(mysql::AdminConnection& conn, const std::vector<std::string>& keys, ApplyMode mode,
                              bool* wrote) {
  std::string list;
  for (const auto& k : keys) list += (list.empty() ? "" : ", ") + (pk_.size() == 1 ? k : "(" + k + ")");
  std::string key = pk_.size() == 1 ? QuoteIdentifier(pk_[0]) : "(" + JoinQuoted(pk_) + ")";
  std::string where = fmt::format("{} IN ({})", key, list);
  // Under LOCK TABLES (the cut-over) no transaction: BEGIN would release the table locks, and
  // nothing else can write the tables anyway.
  bool transaction = mode == ApplyMode::kOwnTransaction;
  Status st = transaction ? conn.Execute("BEGIN") : Ok();
  if (st && reverse_) {
    // Back into the previous table: rows keep the values of columns the new table dropped.
    // No aliases: under LOCK TABLES (the revert's cut-over) tables are known by their names.
    std::string n = QuoteIdentifier(plan_.table), o = QuoteIdentifier(target());
    std::string on;
    for (const auto& p : pk_) on += (on.empty() ? "" : " AND ") + fmt::format("{1}.{0} = {2}.{0}", QuoteIdentifier(p), n, o);
    st = conn.Execute(fmt::format("DELETE FROM {} WHERE {} AND NOT EXISTS (SELECT 1 FROM {} WHERE {})", o, where, n, on));
    std::uint64_t changed = conn.affected_rows();
    std::string updates;
    for (const auto& c : copy_columns_) {
      updates += (updates.empty() ? "" : ", ") + fmt::format("{0} = VALUES({0})", QuoteIdentifier(c));
    }
    if (st) st = conn.Execute(CopyStatement(where) + " ON DUPLICATE KEY UPDATE " + updates);
    if (wrote) *wrote = changed + conn.affected_rows() > 0;
  } else if (st) {
    st = conn.Execute(fmt::format("DELETE FROM {} WHERE {}", QuoteIdentifier(target()), where));
    std::uint64_t changed = conn.affected_rows();
    if (st) st = conn.Execute(CopyStatement(where));
    if (wrote) *wrote = changed + conn.affected_rows() > 0;
  }
  if (st && transaction) st = conn.Execute("COMMIT");
  if (!st) {
    if (transaction) (void)conn.Execute("ROLLBACK");
    follower_->Restore(keys);  // not applied: they stay pending
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("applying changes of {} to {} failed: {}", plan_.table,
                                 reverse_ ? "the previous table" : "the new table", st.error().message),
                     "a row written during the change does not fit the new definition (e.g. a duplicate on a "
                     "new unique key)");
  }
  progress_.changes_applied += keys.size();
  return Ok();
}

// MariaDB sends a transaction's events as soon as they are in the binlog, a moment before the
// transaction commits in InnoDB: a key applied then can read the row as it was before the
// change, and its event is not delivered again (seen under sysbench on a loaded machine: one
// `k = k + 1` lost). But MariaDB commits to InnoDB in binlog order: once a transaction of ours
// written to the binlog after a key was taken has committed, that key's change is visible. So
// a step applies only keys taken before an earlier step's commit (settled_), and its own commit
// is the barrier for the keys it takes (a marker commit when it wrote nothing). Each key is read
// once, one step after it arrives; each step is one commit. (Before, every key was applied at
// once and again behind a marker: three commits a step and two reads a key, 0.4 s of a 1M-row
// copy's critical path under sysbench's writes.)
Status OnlineAlter::ApplyStep(mysql::AdminConnection& conn, StepMode mode) {
  // kEverything goes on until nothing new arrives: the keys taken in one round are read again in
  // the next, behind its barrier, and a comparison that follows sees the freshest rows it can.
  for (int round = 0; round < (mode == StepMode::kEverything ? 20 : 1); ++round) {
    // Taken before this step's commits are written to the binlog.
    std::size_t taken = 0;
    if (mode != StepMode::kSettled) {
      unsettled_at_ = follower_->position();
      for (auto& key : follower_->Drain(std::numeric_limits<std::size_t>::max())) {
        unsettled_.insert(std::move(key));
        ++taken;
      }
    }
    std::vector<std::string> keys(settled_.begin(), settled_.end());
    if (mode == StepMode::kEverything) keys.insert(keys.end(), unsettled_.begin(), unsettled_.end());
    std::string at = settled_at_;
    settled_.clear();
    bool barrier = false;
    auto st = ForEachBatch(keys, kApplyBatch, [&](const std::vector<std::string>& batch) -> Status {
      bool wrote = false;
      SCION_TRY(ApplyKeys(conn, batch, ApplyMode::kOwnTransaction, &wrote));
      barrier = barrier || wrote;
      NoteApplied(batch);
      return Ok();
    });
    if (!st) {
      follower_->Restore(keys);  // applied or not, they are read again later
      return st;
    }
    applied_at_ = at;
    if (!barrier && !unsettled_.empty()) {
      SCION_ASSIGN_OR_RETURN(barrier, Marker(conn));
    }
    if (barrier) {
      // kEverything read these too, maybe a moment early: read again by the next step.
      settled_.merge(unsettled_);
      unsettled_.clear();
      settled_at_ = unsettled_at_;
    }
    if (settled_.empty() && unsettled_.empty()) applied_at_ = unsettled_at_;
    if (taken == 0 && settled_.empty()) break;
  }
  return Ok();
}

Status OnlineAlter::ApplyDelivered(mysql::AdminConnection& conn) {
  if (reverse_) return ApplyPending(conn, ApplyMode::kOwnTransaction);
  SCION_TRY(ApplyStep(conn));                     // takes what was delivered; its commit is their barrier
  return ApplyStep(conn, StepMode::kSettled);  // applies them (what arrived meanwhile waits)
}

Status OnlineAlter::Throttle() {
  for (int i = 0; i < 50 && !cancelled_; ++i) {
    SCION_ASSIGN_OR_RETURN(auto r, conn_->Query("SHOW GLOBAL STATUS LIKE 'Threads_running'"));
    std::uint64_t running = r.rows.empty() || !r.rows[0][1] ? 0 : std::stoull(*r.rows[0][1]);
    if (running <= options_.max_threads_running) return Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Ok();  // never starve the copy forever
}

Status OnlineAlter::CatchUp() {
  if (!conn_ || !follower_) return MakeError(ErrorCode::kFailedPrecondition, "the copy has not started");
  SCION_TRY(follower_->status());
  return ApplyPending(*conn_, ApplyMode::kOwnTransaction);
}

Status OnlineAlter::WaitCaughtUp(const std::string& position, std::chrono::milliseconds timeout) {
  return follower_->WaitFor(position, timeout);
}

Status OnlineAlter::Copy(const std::function<void(const Progress&)>& on_progress, std::optional<Checkpoint> resume) {
  SCION_TRY(Prepare(resume));
  chunk_rows_ = std::clamp<std::uint64_t>(options_.initial_chunk_rows, 1, max_chunk_rows_);
  std::string watermark = resume ? resume->watermark : "";
  bool done = resume && resume->copy_done;
  if (resume) progress_.rows_copied = resume->rows_copied;
  auto started = Clock::now();
  // Where the copying connection's time goes: the chunks, and the changes applied between them.
  Clock::duration copying{}, applying{};
  std::uint64_t chunks = 0;
  progress_.phase = "copy";
  if (!done && int_pk_ && options_.verify_behind_copy) {
    if (auto st = StartVerifyBehindCopy(watermark); !st) {
      spdlog::warn("msg=\"verifying after the copy instead of behind it\" table={} error=\"{}\"", plan_.table,
                   st.error().message);
    }
  }
  while (!done) {
    if (cancelled_) return MakeError(ErrorCode::kConflict, "cancelled");
    SCION_TRY(follower_->status());
    SCION_TRY(Throttle());
    std::string lower = watermark;
    std::uint64_t before = progress_.rows_copied;
    auto chunk_started = Clock::now();
    SCION_TRY(CopyChunk(*conn_, watermark, done));
    auto chunk_done = Clock::now();
    copying += chunk_done - chunk_started;
    ++chunks;
    // A binlogged chunk's commit is a barrier for the keys taken before it.
    if (progress_.rows_copied > before && options_.binlog_copy) {
      settled_.merge(unsettled_);
      unsettled_.clear();
      settled_at_ = unsettled_at_;
    }
    SCION_TRY(ApplyStep(*conn_));
    applying += Clock::now() - chunk_done;
    // The chunk and the changes to it so far are in: compare it (the open-ended last one is
    // left to Verify()).
    if (!done) QueueBehindCopy(lower, watermark, progress_.rows_copied - before);
    if (!done && EarlyIndexBuildDue()) SCION_TRY(StartDeferredIndexes(/*early=*/true));
    if (options_.on_checkpoint) {
      SCION_TRY(options_.on_checkpoint({.watermark = watermark,
                                        .position = applied_at_,
                                        .rows_copied = progress_.rows_copied,
                                        .copy_done = done}));
    }
    double secs = std::chrono::duration<double>(Clock::now() - started).count();
    progress_.rows_per_second = secs > 0 ? progress_.rows_copied / secs : 0;
    if (progress_.rows_per_second > 0 && progress_.rows_estimate > progress_.rows_copied) {
      progress_.eta_seconds = (progress_.rows_estimate - progress_.rows_copied) / progress_.rows_per_second;
    } else {
      progress_.eta_seconds = done ? 0 : -1;
    }
    if (on_progress) on_progress(progress_);
  }
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  spdlog::info("msg=\"rows copied\" table={} rows={} chunks={} seconds={:.2f} in_chunks={:.2f} applying={:.2f} "
               "changes_applied={}",
               plan_.table, progress_.rows_copied, chunks, seconds(Clock::now() - started), seconds(copying),
               seconds(applying), progress_.changes_applied);
  if (!deferred_.empty()) {
    progress_.phase = "build-indexes";
    if (on_progress) on_progress(progress_);
    SCION_TRY(StartDeferredIndexes());
  }
  progress_.phase = "catch-up";
  SCION_ASSIGN_OR_RETURN(std::string now, CurrentPosition(*conn_));
  SCION_TRY(WaitCaughtUp(now, std::chrono::seconds(60)));
  SCION_TRY(ApplyDelivered(*conn_));
  if (on_progress) on_progress(progress_);
  return Ok();
}

// While the copy goes on, the build logs the rows inserted meanwhile (about an index entry per
// row and index, InnoDB's online log, at most innodb_online_alter_log_max_size) and applies
// them when its sorted pass is done; rows copied after that go into the index one by one. The
// other core builds while this one copies: under sysbench's writes on 2 cores, a build from
// 60% took a 1M-row change from 5.5 s to 4.9-5.0 s (see AlterOptions::index_build_at for what
// it does on a machine bound by its disk).
bool OnlineAlter::EarlyIndexBuildDue() const {
  if (deferred_.empty() || index_thread_.joinable() || index_retried_ || index_build_at_ >= 1.0) return false;
  auto estimate = static_cast<double>(progress_.rows_estimate);
  if (estimate <= 0 || progress_.rows_copied < index_build_at_ * estimate) return false;
  // Too many rows left for the online log (a guess of 32 bytes an entry; a build that runs out
  // anyway is started again after the copy).
  double log_bytes = std::max(estimate - static_cast<double>(progress_.rows_copied), 0.0) * 32.0 *
                     static_cast<double>(deferred_.size());
  return log_bytes <= static_cast<double>(online_log_max_) / 2;
}

Status OnlineAlter::StartDeferredIndexes(bool early) {
  if (deferred_.empty() || index_thread_.joinable()) return Ok();
  index_early_ = early;
  SCION_ASSIGN_OR_RETURN(auto present, conn_->Query(fmt::format(
                                           "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE "
                                           "TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                                           QuoteString(plan_.schema), QuoteString(shadow_))));
  std::set<std::string> have;
  for (const auto& row : present.rows) have.insert(row[0].value_or(""));
  std::string adds;
  for (const auto& index : deferred_) {
    if (!have.count(index.name)) adds += (adds.empty() ? "ADD " : ", ADD ") + schema::IndexDefinition(index);
  }
  if (adds.empty()) return Ok();
  // As long as the build takes (hours on a big table); a cancel or a failure stops it with
  // KILL QUERY, and a MariaDB restart ends it with the connection.
  auto index_options = options_.connect;
  index_options.read_timeout = std::chrono::milliseconds(0);
  SCION_ASSIGN_OR_RETURN(auto conn, mysql::AdminConnection::Connect(index_options));
  SCION_TRY(conn->Execute(fmt::format("USE {}", QuoteIdentifier(plan_.schema))));
  SCION_ASSIGN_OR_RETURN(auto id, conn->Query("SELECT CONNECTION_ID()"));
  index_connection_id_ = id.rows.empty() ? "" : id.rows[0][0].value_or("");
  // A sorted build that lets the catch-up and verification go on meanwhile (LOCK=NONE).
  std::string sql = fmt::format("ALTER TABLE {} {}, ALGORITHM=INPLACE, LOCK=NONE", QuoteIdentifier(shadow_), adds);
  spdlog::info("msg=\"building secondary indexes\" table={} during_copy={} rows_copied={}", plan_.table, early,
               progress_.rows_copied);
  index_status_ = Ok();
  index_thread_ = std::thread([this, sql, conn = std::move(conn)] {
    auto started = Clock::now();
    index_status_ = conn->Execute(sql);
    spdlog::info("msg=\"secondary indexes built\" table={} ok={} seconds={:.2f}", plan_.table, index_status_.has_value(),
                 std::chrono::duration<double>(Clock::now() - started).count());
  });
  return Ok();
}

Status OnlineAlter::FinishDeferredIndexes() {
  if (!index_thread_.joinable()) return Ok();
  index_thread_.join();
  if (!index_status_ && index_early_ && !cancelled_) {
    // Started during the copy and failed (its online log full, say): once more, now that the
    // copy is done.
    spdlog::warn("msg=\"secondary index build during the copy failed; building after it\" table={} error={}",
                 plan_.table, log::Quote(index_status_.error().message));
    index_retried_ = true;
    SCION_TRY(StartDeferredIndexes());
    index_thread_.join();
  }
  if (!index_status_) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("adding the secondary indexes of {} to the new table failed: {}", plan_.table,
                                 index_status_.error().message));
  }
  return Ok();
}

Result<bool> OnlineAlter::CheckWhere(mysql::AdminConnection& a, mysql::AdminConnection& b, const std::string& where,
                                     bool parallel) const {
  auto sum = [&](mysql::AdminConnection& c, const std::string& table) -> Result<std::string> {
    SCION_ASSIGN_OR_RETURN(auto r, c.Query(fmt::format("SELECT COUNT(*), {} FROM {} WHERE {}", crc_,
                                                       QuoteIdentifier(table), where)));
    return r.rows[0][0].value_or("") + "/" + r.rows[0][1].value_or("");
  };
  if (!parallel) {
    SCION_ASSIGN_OR_RETURN(auto mine, sum(a, plan_.table));
    SCION_ASSIGN_OR_RETURN(auto theirs, sum(b, shadow_));
    return mine == theirs;
  }
  // Both sides at once, on two connections (the instance has the cores; the wait is the scan).
  Result<std::string> other_sum = std::string();
  std::thread other([&] { other_sum = sum(b, shadow_); });
  auto mine = sum(a, plan_.table);
  other.join();
  if (!mine) return std::unexpected(mine.error());
  if (!other_sum) return std::unexpected(other_sum.error());
  return *mine == *other_sum;
}

Status OnlineAlter::StartVerifyBehindCopy(const std::string& from) {
  auto b = std::make_unique<BehindCopy>();
  b->start = from;
  b->covered = from;
  for (auto* conn : {&b->source, &b->shadow}) {
    SCION_ASSIGN_OR_RETURN(*conn, mysql::AdminConnection::Connect(WorkOptions(options_.connect)));
    for (const char* sql : {"SET SESSION time_zone = '+00:00'", "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"}) {
      SCION_TRY((*conn)->Execute(sql));
    }
    SCION_TRY((*conn)->Execute(fmt::format("USE {}", QuoteIdentifier(plan_.schema))));
  }
  behind_ = std::move(b);
  behind_->thread = std::thread([this] { VerifyBehindCopy(); });
  return Ok();
}

std::unique_ptr<OnlineAlter::BehindCopy> OnlineAlter::StopVerifyBehindCopy() {
  if (behind_ && behind_->thread.joinable()) {
    {
      std::lock_guard lock(behind_->mu);
      behind_->stop = true;
    }
    behind_->cv.notify_all();
    behind_->thread.join();
  }
  return std::move(behind_);
}

void OnlineAlter::QueueBehindCopy(const std::string& lower, const std::string& upper, std::uint64_t rows) {
  if (!behind_) return;
  {
    std::lock_guard lock(behind_->mu);
    behind_->queue.push_back({lower, upper, rows});
  }
  behind_->cv.notify_all();
}

void OnlineAlter::NoteApplied(const std::vector<std::string>& keys) {
  if (!behind_) return;
  // A key at or below compared_upto may lie in a range compared before this change was applied,
  // and is compared again by Verify(). A key above it was applied before its range is compared,
  // which compares it then (compared_upto moves before the range is read).
  std::lock_guard lock(behind_->mu);
  if (!behind_->compared_any || behind_->overflow) return;
  for (const auto& k : keys) {
    auto v = ParseKey(k);
    if (!v || *v <= behind_->compared_upto) behind_->touched.insert(k);
  }
  if (behind_->touched.size() > kBehindMaxTouched) {
    behind_->overflow = true;
    behind_->touched.clear();
  }
}

void OnlineAlter::VerifyBehindCopy() {
  BehindCopy& b = *behind_;
  auto fail = [&](const Error& e) {
    std::lock_guard lock(b.mu);
    b.error = e;
  };
  for (;;) {
    BehindCopy::Chunk chunk;
    std::vector<std::pair<std::string, std::string>> again;
    {
      std::unique_lock lock(b.mu);
      b.cv.wait(lock, [&] { return b.stop || !b.queue.empty(); });
      if (b.stop) return;
      chunk = b.queue.front();
      b.queue.pop_front();
      again.swap(b.differ);
    }
    // Ranges that differed last time first: the catch-up that ran since may have settled them.
    std::vector<std::pair<std::string, std::string>> differ;
    for (const auto& [lo, hi] : again) {
      auto same = CheckWhere(*b.source, *b.shadow, RangeWhere(lo, hi), false);
      if (!same) return fail(same.error());
      if (!*same) differ.emplace_back(lo, hi);
    }
    // The new chunk, in ranges of about kBehindRangeRows rows split by arithmetic.
    // Plain values, not optionals: GCC 12 warns about optional<__int128> (maybe-uninitialized).
    KeyInt from = 0, to = 0;
    bool split = false;
    if (auto hi = ParseKey(chunk.upper)) {
      to = *hi;
      std::string lower = chunk.lower;
      if (lower.empty()) {
        auto first = b.source->Query(fmt::format("SELECT MIN({0}) FROM {1} WHERE {0} <= {2}",
                                                 QuoteIdentifier(pk_[0]), QuoteIdentifier(plan_.table), chunk.upper));
        if (!first) return fail(first.error());
        if (!first->rows.empty() && first->rows[0][0]) lower = *first->rows[0][0];
      }
      if (auto lo = ParseKey(lower)) {
        from = chunk.lower.empty() ? *lo - 1 : *lo;  // the first chunk: just below its first key
        split = to > from;
      }
    }
    std::vector<std::string> bounds{chunk.lower};
    if (split) {
      KeyInt n = static_cast<KeyInt>(std::clamp<std::uint64_t>(chunk.rows / kBehindRangeRows, 1, 64));
      for (KeyInt i = 1; i < n; ++i) {
        KeyInt at = from + (to - from) * i / n;
        if (at > from && (bounds.size() == 1 || KeyLiteral(at) != bounds.back())) bounds.push_back(KeyLiteral(at));
      }
    }
    bounds.push_back(chunk.upper);
    bool stopped = false;
    for (std::size_t i = 0; i + 1 < bounds.size() && !stopped; ++i) {
      {
        std::lock_guard lock(b.mu);
        stopped = b.stop;
        // Before the range is read: a change applied from now on is noted for Verify().
        if (auto upto = ParseKey(bounds[i + 1])) {
          b.compared_upto = b.compared_any ? std::max(b.compared_upto, *upto) : *upto;
          b.compared_any = true;
        }
      }
      if (options_.on_behind_copy_range) options_.on_behind_copy_range(bounds[i], bounds[i + 1]);
      auto same = CheckWhere(*b.source, *b.shadow, RangeWhere(bounds[i], bounds[i + 1]), false);
      if (!same) return fail(same.error());
      if (!*same) differ.emplace_back(bounds[i], bounds[i + 1]);
    }
    std::lock_guard lock(b.mu);
    b.ranges += bounds.size() - 1;
    b.ranges_differed += differ.size();
    b.differ.insert(b.differ.end(), differ.begin(), differ.end());
    if (stopped) return;  // this chunk is not covered: Verify() compares it
    b.covered = chunk.upper;
  }
}

Status OnlineAlter::VerifyWhere(const std::string& where, const std::function<Status()>& repair, int& repairs) {
  // Read without locks: rows compared while a write to them is in flight differ for a moment,
  // so they are compared again after catching up before they count as a mismatch.
  constexpr int kRechecks = 10;
  for (int repaired = 0;; ++repaired) {
    bool same = false;
    for (int check = 0; check <= kRechecks && !same; ++check) {
      if (cancelled_) return MakeError(ErrorCode::kConflict, "cancelled");
      // Most rows match at once; only differing ones wait for the follower to catch up.
      if (check > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * check));
        SCION_ASSIGN_OR_RETURN(std::string position, CurrentPosition(*conn_));
        SCION_TRY(WaitCaughtUp(position, std::chrono::seconds(30)));
      }
      // Everything delivered, the keys just taken too (and again later, behind a barrier): with
      // writes going on, rows compared must be as fresh as can be or they never agree.
      SCION_TRY(reverse_ ? ApplyPending(*conn_, ApplyMode::kOwnTransaction) : ApplyStep(*conn_, StepMode::kEverything));
      SCION_ASSIGN_OR_RETURN(same, CheckWhere(*conn_, *conn2_, where));
    }
    if (same) return Ok();
    // A change whose commit was not yet visible when it was applied also ends here, once; the
    // same rows differing again after a repair is a fault.
    if (repaired == options_.verify_repairs) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("verification of {} failed: the new table still differs from the old after {} "
                                   "repairs of the same rows ({})",
                                   plan_.table, options_.verify_repairs, where.substr(0, 200)));
    }
    ++repairs;
    spdlog::warn("msg=\"verify mismatch, copying the rows again\" table={} rows=\"{}\"", plan_.table, where.substr(0, 200));
    SCION_TRY(repair());
  }
}

Status OnlineAlter::VerifyRanges(std::string lower, const std::optional<std::string>& stop, int& repairs) {
  constexpr std::uint64_t kChunk = 10000;
  auto stop_key = stop ? ParseKey(*stop) : std::nullopt;
  for (;;) {
    if (cancelled_) return MakeError(ErrorCode::kConflict, "cancelled");
    SCION_ASSIGN_OR_RETURN(auto upper, RangeEnd(*conn_, lower, kChunk));
    bool last = !upper;
    if (stop) {
      // Bounded ranges exist only for a single integer key (verification behind the copy).
      auto at = upper ? ParseKey(*upper) : std::nullopt;
      if (!upper || !at || !stop_key || *at >= *stop_key) {
        upper = *stop;
        last = true;
      }
    }
    std::string hi = upper ? *upper : "";
    auto recopy = [&]() -> Status {
      SCION_TRY(CopyRange(*conn_, lower, hi));
      return Ok();
    };
    SCION_TRY(VerifyWhere(RangeWhere(lower, hi), recopy, repairs));
    if (last) return Ok();
    lower = *upper;
  }
}

Status OnlineAlter::VerifyKeys(const std::vector<std::string>& keys, int& repairs) {
  constexpr std::size_t kBatch = 1000;
  std::string column = QuoteIdentifier(pk_[0]);
  return ForEachBatch(keys, kBatch, [&](const std::vector<std::string>& batch) {
    std::string list;
    for (const auto& k : batch) list += (list.empty() ? "" : ", ") + k;
    return VerifyWhere(fmt::format("{} IN ({})", column, list),
                       [&] { return ApplyKeys(*conn_, batch, ApplyMode::kOwnTransaction); }, repairs);
  });
}

Status OnlineAlter::Verify() {
  progress_.phase = "verify";
  int repairs = 0;
  auto started = Clock::now();
  // What the verification behind the copy left open, if it ran and can be used.
  std::unique_ptr<BehindCopy> behind = StopVerifyBehindCopy();
  if (behind && (behind->error || behind->overflow)) {
    spdlog::warn("msg=\"verifying the whole table\" table={} reason=\"{}\"", plan_.table,
                 behind->error ? behind->error->message : "too many rows changed during the copy");
    behind.reset();
  }
  if (!behind) {
    SCION_TRY(VerifyRanges("", std::nullopt, repairs));
  } else {
    if (!behind->start.empty()) SCION_TRY(VerifyRanges("", behind->start, repairs));
    for (const auto& [lo, hi] : behind->differ) SCION_TRY(VerifyRanges(lo, hi, repairs));
    SCION_TRY(VerifyRanges(behind->covered, std::nullopt, repairs));
    SCION_TRY(VerifyKeys({behind->touched.begin(), behind->touched.end()}, repairs));
  }
  spdlog::info("msg=\"rows verified\" table={} seconds={:.2f} repairs={} behind_copy_ranges={} differed={} "
               "keys_rechecked={}",
               plan_.table, std::chrono::duration<double>(Clock::now() - started).count(), repairs,
               behind ? behind->ranges : 0, behind ? behind->ranges_differed : 0, behind ? behind->touched.size() : 0);
  return FinishDeferredIndexes();
}

namespace {

// A session of the cut-over: the schema, a short lock wait, UTC.
Result<std::unique_ptr<mysql::AdminConnection>> CutOverSession(const AlterOptions& o, const std::string& schema) {
  SCION_ASSIGN_OR_RETURN(auto c, mysql::AdminConnection::Connect(o.connect));
  SCION_TRY(c->Execute(fmt::format("USE {}", QuoteIdentifier(schema))));
  SCION_TRY(c->Execute(fmt::format("SET SESSION lock_wait_timeout = {}", o.cutover_lock_wait_seconds)));
  SCION_TRY(c->Execute("SET SESSION time_zone = '+00:00'"));
  return c;
}

Result<std::string> ConnectionId(mysql::AdminConnection& c) {
  SCION_ASSIGN_OR_RETURN(auto r, c.Query("SELECT CONNECTION_ID()"));
  if (r.rows.empty() || !r.rows[0][0]) return MakeError(ErrorCode::kInternal, "no connection id");
  return *r.rows[0][0];
}

// Waits until every session in `ids` waits for a metadata lock, or `deadline`. `seen` is the
// last state read, for the log.
bool WaitAllQueued(mysql::AdminConnection& c, const std::vector<std::string>& ids, Clock::time_point deadline,
                   std::string& seen) {
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
  while (Clock::now() < deadline) {
    auto r = c.Query(fmt::format("SELECT ID, STATE FROM information_schema.PROCESSLIST WHERE ID IN ({})", list));
    if (!r) {
      seen = r.error().message;
    } else {
      std::size_t queued = 0;
      seen.clear();
      for (const auto& row : r->rows) {
        seen += (seen.empty() ? "" : "; ") + row[0].value_or("?") + ": " + row[1].value_or("NULL");
        if (row[1] && row[1]->find("metadata lock") != std::string::npos) ++queued;
      }
      if (queued == ids.size()) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// A session that runs one table's RENAME once the cut-over holds the locks.
struct Renamer {
  std::unique_ptr<mysql::AdminConnection> conn;
  std::string id;
  std::string sql;
  Status result = Ok();
};

}  // namespace

Status OnlineAlter::SettleBeforeLocking() {
  // A revert keeps its behaviour: everything its sync applied is applied again under the locks
  // (its apply is an upsert that keeps the dropped columns, which a marker copy would not).
  if (reverse_ || !conn_ || !follower_) return Ok();
  // Only keys delivered from here on are left for the locks. (Before, every key applied since
  // verification began was applied again under them: on a slow machine, 3,000 keys held the
  // application's writes for 170 ms.)
  return ApplyDelivered(*conn_);
}

Result<bool> OnlineAlter::Marker(mysql::AdminConnection& conn) {
  SCION_ASSIGN_OR_RETURN(auto first, KeyAt(conn, plan_.table, pk_, pk_types_, PkCharsets(), "1", 0));
  if (!first) return false;
  // The range up to the first key: that row (and any inserted below it since).
  SCION_ASSIGN_OR_RETURN(std::uint64_t written, CopyRange(conn, "", *first));
  return written > 0;
}

Status OnlineAlter::CutOver(const std::vector<OnlineAlter*>& alters) {
  if (alters.empty()) return Ok();
  for (auto* m : alters) SCION_TRY(m->FinishDeferredIndexes());
  const AlterOptions& o = alters[0]->options_;
  std::vector<OnlineAlter*> pending = alters;
  std::string last_error;
  for (int attempt = 1; attempt <= o.cutover_attempts && !pending.empty(); ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(o.cutover_backoff * (attempt - 1));
    // As little as possible left for the time writes are held.
    for (auto* m : pending) SCION_TRY(m->SettleBeforeLocking());
    auto st = CutOverAttempt(pending, attempt);
    if (!st && st.error().code == ErrorCode::kFailedPrecondition) return st;  // a row that does not fit
    if (!st) {
      last_error = st.error().message;
      spdlog::warn("msg=\"cut-over attempt failed, will retry\" attempt={} error={}", attempt, log::Quote(last_error));
    }
  }
  if (pending.empty()) return Ok();
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("cut-over did not succeed in {} attempts: {}", o.cutover_attempts, last_error),
                   "a long-running transaction or lock holds the table; find it with SHOW PROCESSLIST, let it finish, "
                   "and retry");
}

// One attempt for all `alters` together. One session takes a sentry table (named like each
// table's parked name, so no RENAME can finish while it exists) and LOCK TABLES on every table,
// shadow and sentry, and applies the last changes; then one RENAME per table, each in a session
// of its own, queues for its table (RENAME takes its locks in name order, and the table's name
// sorts first). Once all of them wait, the sentries go and UNLOCK TABLES lets every RENAME run
// before any held write: no statement sees some tables swapped and others not. (One RENAME of
// all the tables would queue on the first table only, and writes held on the others would be
// granted ahead of it at the unlock.) Tables that were swapped leave `alters`.
Status OnlineAlter::CutOverAttempt(std::vector<OnlineAlter*>& alters, int attempt) {
  const AlterOptions& o = alters[0]->options_;
  const std::string& schema = alters[0]->plan_.schema;
  SCION_ASSIGN_OR_RETURN(auto a, CutOverSession(o, schema));
  SCION_ASSIGN_OR_RETURN(std::string a_id, ConnectionId(*a));
  std::vector<Renamer> renamers(alters.size());
  std::string locks, sentries;
  // Until the RENAMEs run, every name in `sentries` is a sentry of this attempt.
  auto drop_sentries = [&] {
    if (!sentries.empty()) (void)a->Execute(fmt::format("DROP TABLE IF EXISTS {}", sentries));
  };
  for (std::size_t i = 0; i < alters.size(); ++i) {
    OnlineAlter* m = alters[i];
    std::string table = QuoteIdentifier(m->plan_.table), parked = QuoteIdentifier(m->parked()),
                incoming = QuoteIdentifier(m->incoming());
    renamers[i].sql = fmt::format("RENAME TABLE {} TO {}, {} TO {}", table, parked, incoming, table);
    auto session = CutOverSession(o, schema);
    Result<std::string> id = session ? ConnectionId(**session) : Result<std::string>(std::unexpected(session.error()));
    // Only a sentry left by an earlier attempt may go; a real table under the name stops us.
    Status st = id ? DropSentry(*a, schema, m->parked()) : Status(std::unexpected(id.error()));
    if (st) {
      st = a->Execute(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY) COMMENT {}", parked, QuoteString(kSentryComment)));
    }
    if (!st) {
      drop_sentries();
      return st;
    }
    renamers[i].conn = std::move(*session);
    renamers[i].id = *id;
    locks += fmt::format("{}{} WRITE, {} WRITE, {} WRITE", locks.empty() ? "" : ", ", table, parked, incoming);
    sentries += (sentries.empty() ? "" : ", ") + parked;
  }
  auto started = Clock::now();
  if (auto st = a->Execute("LOCK TABLES " + locks); !st) {
    drop_sentries();
    return MakeError(ErrorCode::kUnavailable, "the cut-over could not lock the tables: " + st.error().message);
  }
  // Writes to the tables are held from here. Apply what was committed before the lock.
  auto position = CurrentPosition(*a);
  Status caught = position ? Ok() : Status(std::unexpected(position.error()));
  for (auto* m : alters) {
    if (caught) caught = m->WaitCaughtUp(*position, std::chrono::seconds(o.cutover_lock_wait_seconds));
    if (caught) caught = m->ApplyPending(*a, ApplyMode::kUnderLockTables);
  }
  if (!caught) {
    (void)a->Execute("UNLOCK TABLES");
    drop_sentries();
    return caught;
  }
  std::vector<std::thread> threads;
  std::vector<std::string> ids;
  for (auto& r : renamers) {
    ids.push_back(r.id);
    threads.emplace_back([&r] { r.result = r.conn->Execute(r.sql); });
  }
  std::string seen;
  bool queued = WaitAllQueued(*a, ids, started + std::chrono::seconds(o.cutover_lock_wait_seconds) * 2, seen);
  if (o.on_cutover_stage) o.on_cutover_stage("rename-queued", std::stoull(a_id));
  if (queued) {
    if (auto dropped = a->Execute(fmt::format("DROP TABLE {}", sentries)); !dropped) {
      spdlog::warn("msg=\"cannot drop the cut-over sentries\" error={}", log::Quote(dropped.error().message));
    }
  } else {
    spdlog::warn("msg=\"the RENAMEs were not all seen waiting\" states={}", log::Quote(seen));
  }
  (void)a->Execute("UNLOCK TABLES");
  for (auto& t : threads) t.join();
  auto held = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);

  std::vector<OnlineAlter*> left;
  std::string failure;
  for (std::size_t i = 0; i < alters.size(); ++i) {
    OnlineAlter* m = alters[i];
    if (!renamers[i].result) {
      // The RENAME failed (its sentry was still there): that table is unchanged.
      failure = renamers[i].result.error().message;
      left.push_back(m);
      continue;
    }
    m->cut_over_ = !m->reverse_;
    m->cutover_position_ = *position;
    m->cutover_held_ = held;
    m->progress_.phase = m->reverse_ ? "reverted" : "complete";
    if (m->follower_) m->follower_->Stop();
  }
  // Sentries still there (checked by their comment: a swapped table's parked name is real now).
  for (auto* m : left) (void)DropSentry(*a, schema, m->parked());
  if (left.size() == alters.size()) {
    return MakeError(ErrorCode::kUnavailable, queued ? failure : "the RENAME did not queue in time");
  }
  if (!left.empty()) {
    // Not expected (every RENAME was queued and every sentry dropped); the others go on alone.
    spdlog::warn("msg=\"cut-over swapped only some tables; retrying the rest\" swapped={} left={} error={}",
                 alters.size() - left.size(), left.size(), log::Quote(failure));
  }
  spdlog::info("msg=\"cut-over complete\" tables={} held_ms={} attempt={}", alters.size() - left.size(), held.count(),
               attempt);
  alters = std::move(left);
  return Ok();
}

Status OnlineAlter::StartRevertSync() {
  if (!cut_over_) return MakeError(ErrorCode::kFailedPrecondition, "the table was not cut over");
  if (revert_thread_.joinable()) return Ok();
  reverse_ = true;  // changes now flow from the new table into the previous one
  std::vector<LiteralKind> kinds;
  std::vector<std::string> charsets;
  for (std::size_t i = 0; i < pk_.size(); ++i) {
    kinds.push_back(KindOf(pk_types_[i]));
    const schema::Column* c = plan_.to.FindColumn(pk_[i]);
    charsets.push_back(c && !c->charset.empty() ? c->charset
                                                : (!plan_.to.charset.empty() ? plan_.to.charset : "utf8mb4"));
  }
  binlog::StreamOptions so{.endpoint = options_.connect.unix_socket,
                           .user = options_.connect.user,
                           .password = options_.connect.password,
                           .start_position = cutover_position_,
                           .schemas = {plan_.schema},
                           .tables = {plan_.table}};
  follower_ = std::make_unique<Follower>(std::move(so), pk_, kinds, charsets);
  follower_->Start(cutover_position_);
  SCION_ASSIGN_OR_RETURN(auto conn, mysql::AdminConnection::Connect(options_.connect));
  SCION_TRY(conn->Execute("SET SESSION time_zone = '+00:00'"));
  SCION_TRY(conn->Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
  SCION_TRY(conn->Execute(fmt::format("USE {}", QuoteIdentifier(plan_.schema))));
  revert_stop_ = false;
  revert_thread_ = std::thread([this, conn = std::move(conn)]() mutable {
    while (!revert_stop_) {
      auto st = follower_->status();
      if (st) st = ApplyPending(*conn, ApplyMode::kOwnTransaction);
      if (!st && st.error().code == ErrorCode::kFailedPrecondition) {
        // A row that does not fit the previous definition: the revert is no longer possible.
        std::lock_guard lock(revert_mu_);
        revert_error_ = st.error();
        spdlog::warn("msg=\"revert sync stopped\" table={} error={}", plan_.table, log::Quote(st.error().message));
        return;
      }
      if (!st) {
        // Passing trouble (a lost connection, a restarting instance): reconnect and go on; the
        // keys that were not applied are still pending.
        spdlog::warn("msg=\"revert sync retrying\" table={} error={}", plan_.table, log::Quote(st.error().message));
        std::this_thread::sleep_for(std::chrono::seconds(1));
        auto again = mysql::AdminConnection::Connect(options_.connect);
        if (again) {
          auto c = std::move(*again);
          if (c->Execute("SET SESSION time_zone = '+00:00'") &&
              c->Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED") &&
              c->Execute(fmt::format("USE {}", QuoteIdentifier(plan_.schema)))) {
            conn = std::move(c);
          }
        }
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  return Ok();
}

void OnlineAlter::StopRevertSync() {
  revert_stop_ = true;
  if (revert_thread_.joinable()) revert_thread_.join();
}

std::optional<Error> OnlineAlter::revert_error() const {
  std::lock_guard lock(revert_mu_);
  return revert_error_;
}

Status OnlineAlter::Revert(const std::vector<OnlineAlter*>& alters) {
  for (auto* m : alters) {
    if (!m->reverse_) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("no revert window is open for table {}", m->plan_.table));
    }
  }
  for (auto* m : alters) m->StopRevertSync();
  Status st = Ok();
  for (auto* m : alters) {
    if (auto e = m->revert_error(); e && st) {
      st = MakeError(ErrorCode::kFailedPrecondition, fmt::format("cannot revert {}: {}", m->plan_.table, e->message),
                     "rows written since the deploy do not fit the previous definition");
    }
  }
  if (st) st = CutOver(alters);
  if (!st) {
    // Keep the window open for what was not reverted; re-applying from the cut-over is idempotent.
    for (auto* m : alters) {
      if (m->cut_over_) (void)m->StartRevertSync();
    }
  }
  return st;
}

Status OnlineAlter::SkipRevert() {
  StopRevertSync();
  if (follower_) follower_->Stop();
  if (!conn_) return Ok();
  return conn_->Execute(fmt::format("DROP TABLE IF EXISTS {}", QuoteIdentifier(old_)));
}

bool OnlineAlter::SwappedBeforeRestart(const AlterOptions& options, const std::string& schema, const std::string& table) {
  auto conn = mysql::AdminConnection::Connect(options.connect);
  if (!conn) return false;
  auto r = (*conn)->Query(fmt::format(
      "SELECT TABLE_NAME, TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME IN ({}, {})",
      QuoteString(schema), QuoteString(DerivedName(table, "_scion_new")), QuoteString(DerivedName(table, "_scion_old"))));
  if (!r || r->rows.size() != 1) return false;
  const auto& row = r->rows[0];
  return row[0].value_or("") == DerivedName(table, "_scion_old") && row[1].value_or("") != kSentryComment;
}

Status OnlineAlter::Abandon(const AlterOptions& options, const TablePlan& plan) {
  SCION_ASSIGN_OR_RETURN(auto conn, mysql::AdminConnection::Connect(options.connect));
  SCION_TRY(DropSentry(*conn, plan.schema, DerivedName(plan.table, "_scion_old")));
  return conn->Execute(fmt::format("DROP TABLE IF EXISTS {}", Qualified(plan.schema, DerivedName(plan.table, "_scion_new"))));
}

}  // namespace scion::migrate
