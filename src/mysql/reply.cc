#include "mysql/reply.h"

#include <fmt/format.h>

#include "mysql/protocol.h"
#include "mysql/wire.h"

namespace scion::mysql {
namespace {

std::uint8_t First(std::string_view head) { return head.empty() ? 0 : static_cast<std::uint8_t>(head[0]); }

// An EOF packet, or under CLIENT_DEPRECATE_EOF the OK packet with a 0xFE header that replaces
// it. A row starting with 0xFE (an 8-byte length) is at least 16 MB long, so length tells.
bool IsTerminator(std::string_view head, std::size_t length) {
  return First(head) == 0xfe && length < kMaxPacketPayload;
}

struct OkFields {
  std::uint64_t affected_rows = 0;
  std::uint16_t status = 0;
};

OkFields ParseOkFields(std::string_view head) {
  ByteReader r(head.substr(1));
  OkFields ok;
  ok.affected_rows = r.LenencInt();
  r.LenencInt();  // last insert id
  ok.status = r.U16();
  return ok;
}

std::uint16_t EofStatus(std::string_view head, bool deprecate_eof) {
  if (deprecate_eof && head.size() > 5) return ParseOkFields(head).status;
  ByteReader r(head.substr(1));
  r.U16();  // warnings
  return r.U16();
}

Error Unexpected(std::string_view what) {
  return Error{ErrorCode::kProtocol, fmt::format("unexpected packet in the server's reply: {}", what)};
}

}  // namespace

ReplyKind ReplyKindOf(std::uint8_t command) {
  switch (command) {
    case kComQuery:
    case kComStmtExecute:
      return ReplyKind::kResultSet;
    case kComStmtPrepare:
      return ReplyKind::kPrepare;
    case kComFieldList:
      return ReplyKind::kFieldList;
    case kComStmtFetch:
      return ReplyKind::kRows;
    case kComStmtSendLongData:
    case kComStmtClose:
    case kComQuit:
      return ReplyKind::kNone;
    default:
      return ReplyKind::kSingle;
  }
}

Result<bool> ReplyTracker::OnPacket(std::string_view head, std::size_t length) {
  if (head.empty()) return std::unexpected(Unexpected("empty packet"));
  switch (state_) {
    case State::kDone:
      return std::unexpected(Unexpected("packet after the end of the reply"));
    case State::kFirst:
      return OnFirst(head, length);
    case State::kColumns:
      if (--remaining_ == 0) state_ = deprecate_eof_ ? State::kRows : State::kColumnsEof;
      return false;
    case State::kColumnsEof:
      if (!IsTerminator(head, length)) return std::unexpected(Unexpected("missing EOF after column definitions"));
      status_ = EofStatus(head, deprecate_eof_);
      if (status_ & kServerStatusCursorExists) return Finish();  // rows come with COM_STMT_FETCH
      state_ = State::kRows;
      return false;
    case State::kRows:
      if (First(head) == 0xff) {
        error_ = true;
        return Finish();
      }
      if (!IsTerminator(head, length)) {
        ++rows_;
        return false;
      }
      return AfterTerminator(head, length);
    case State::kParams:
      if (--remaining_ == 0) {
        if (!deprecate_eof_) {
          state_ = State::kParamsEof;
          return false;
        }
        return ToPrepareColumns();
      }
      return false;
    case State::kParamsEof:
      if (!IsTerminator(head, length)) return std::unexpected(Unexpected("missing EOF after parameter definitions"));
      return ToPrepareColumns();
    case State::kPrepColumns:
      if (--remaining_ == 0) {
        if (!deprecate_eof_) {
          state_ = State::kPrepColumnsEof;
          return false;
        }
        return Finish();
      }
      return false;
    case State::kPrepColumnsEof:
      if (!IsTerminator(head, length)) return std::unexpected(Unexpected("missing EOF after column definitions"));
      return Finish();
  }
  return std::unexpected(Unexpected("unknown state"));
}

Result<bool> ReplyTracker::OnFirst(std::string_view head, std::size_t length) {
  std::uint8_t b = First(head);
  if (b == 0xff) {
    error_ = true;
    return Finish();
  }
  switch (kind_) {
    case ReplyKind::kNone:
      return std::unexpected(Unexpected("a reply to a command that has none"));
    case ReplyKind::kSingle:
      if (b == 0x00 && length >= 7) status_ = ParseOkFields(head).status;
      return Finish();
    case ReplyKind::kPrepare:
      if (b != 0x00) return std::unexpected(Unexpected("COM_STMT_PREPARE answered without OK or ERR"));
      return OnPrepareOk(head);
    case ReplyKind::kFieldList:
    case ReplyKind::kRows:
      state_ = State::kRows;
      return OnPacket(head, length);
    case ReplyKind::kResultSet:
      break;
  }
  if (b == 0x00) {
    OkFields ok = ParseOkFields(head);
    status_ = ok.status;
    affected_rows_ += ok.affected_rows;
    if (status_ & kServerMoreResultsExist) return false;
    return Finish();
  }
  if (b == 0xfb) return std::unexpected(Unexpected("LOAD DATA LOCAL INFILE is not supported"));
  ByteReader r(head);
  remaining_ = r.LenencInt();
  if (!r.ok() || remaining_ == 0) return std::unexpected(Unexpected("bad column count"));
  state_ = State::kColumns;
  return false;
}

Result<bool> ReplyTracker::OnPrepareOk(std::string_view head) {
  ByteReader r(head.substr(1));
  r.U32();  // statement id
  prep_columns_ = r.U16();
  remaining_ = r.U16();  // parameters
  if (!r.ok()) return std::unexpected(Unexpected("short COM_STMT_PREPARE OK"));
  if (remaining_ > 0) {
    state_ = State::kParams;
    return false;
  }
  return ToPrepareColumns();
}

Result<bool> ReplyTracker::ToPrepareColumns() {
  if (prep_columns_ == 0) return Finish();
  remaining_ = prep_columns_;
  state_ = State::kPrepColumns;
  return false;
}

Result<bool> ReplyTracker::AfterTerminator(std::string_view head, std::size_t length) {
  (void)length;
  status_ = EofStatus(head, deprecate_eof_);
  if (kind_ == ReplyKind::kResultSet && (status_ & kServerMoreResultsExist)) {
    state_ = State::kFirst;
    return false;
  }
  return Finish();
}

Result<bool> ReplyTracker::Finish() {
  state_ = State::kDone;
  return true;
}

}  // namespace scion::mysql
