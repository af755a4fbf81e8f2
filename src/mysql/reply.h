// Where a command's reply ends. The gateway forwards a backend's reply to the client packet by
// packet without decoding rows; ReplyTracker looks at the first bytes of each logical packet and
// says when the reply is complete (following multi-result sets, prepared-statement metadata,
// EOF or OK terminators under CLIENT_DEPRECATE_EOF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"

namespace scion::mysql {

// The shape of the reply a command gets.
enum class ReplyKind {
  kNone,        // COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE: no reply
  kSingle,      // one packet: OK/ERR (COM_PING, COM_INIT_DB, COM_RESET_CONNECTION, ...) or text
  kResultSet,   // COM_QUERY, COM_STMT_EXECUTE: OK, ERR, or result sets, possibly several
  kPrepare,     // COM_STMT_PREPARE: ERR, or OK + parameter and column definitions
  kFieldList,   // COM_FIELD_LIST: column definitions until EOF, or ERR
  kRows,        // COM_STMT_FETCH: rows until EOF, or ERR
};

// The reply kind of a command byte; kSingle for commands it does not know (their ERR is one
// packet).
ReplyKind ReplyKindOf(std::uint8_t command);

class ReplyTracker {
 public:
  ReplyTracker(ReplyKind kind, bool deprecate_eof) : kind_(kind), deprecate_eof_(deprecate_eof) {}

  // Feeds the next logical packet: `head` holds its first bytes (at least min(length, 32)),
  // `length` its full payload length. Returns true when this packet ends the reply. A packet that
  // cannot occur at this point is kProtocol.
  Result<bool> OnPacket(std::string_view head, std::size_t length);

  bool done() const { return state_ == State::kDone; }
  // The last OK/EOF status flags seen (e.g. kServerStatusInTrans).
  std::uint16_t status() const { return status_; }
  bool error() const { return error_; }
  std::uint64_t rows() const { return rows_; }
  std::uint64_t affected_rows() const { return affected_rows_; }

 private:
  enum class State { kFirst, kColumns, kColumnsEof, kRows, kParams, kParamsEof, kPrepColumns, kPrepColumnsEof, kDone };

  Result<bool> OnFirst(std::string_view head, std::size_t length);
  Result<bool> OnPrepareOk(std::string_view head);
  Result<bool> AfterTerminator(std::string_view head, std::size_t length);
  Result<bool> Finish();
  Result<bool> ToPrepareColumns();

  ReplyKind kind_;
  bool deprecate_eof_;
  State state_ = State::kFirst;
  std::uint64_t remaining_ = 0;
  std::uint64_t prep_columns_ = 0;
  std::uint16_t status_ = 0;
  bool error_ = false;
  std::uint64_t rows_ = 0;
  std::uint64_t affected_rows_ = 0;
};

}  // namespace scion::mysql
