// Constants and small codecs of the MySQL/MariaDB client-server protocol shared by the blocking
// client, the binlog client and (later) the gateway.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace scion::mysql {

// Capability flags.
inline constexpr std::uint32_t kClientLongPassword = 1;
inline constexpr std::uint32_t kClientFoundRows = 2;
inline constexpr std::uint32_t kClientLongFlag = 4;
inline constexpr std::uint32_t kClientConnectWithDb = 8;
inline constexpr std::uint32_t kClientIgnoreSpace = 256;
inline constexpr std::uint32_t kClientProtocol41 = 512;
inline constexpr std::uint32_t kClientInteractive = 1024;
inline constexpr std::uint32_t kClientSsl = 2048;
inline constexpr std::uint32_t kClientTransactions = 8192;
inline constexpr std::uint32_t kClientSecureConnection = 32768;
inline constexpr std::uint32_t kClientMultiStatements = 1u << 16;
inline constexpr std::uint32_t kClientMultiResults = 1u << 17;
inline constexpr std::uint32_t kClientPsMultiResults = 1u << 18;
inline constexpr std::uint32_t kClientPluginAuth = 1u << 19;
inline constexpr std::uint32_t kClientConnectAttrs = 1u << 20;
inline constexpr std::uint32_t kClientPluginAuthLenencData = 1u << 21;
inline constexpr std::uint32_t kClientSessionTrack = 1u << 23;
inline constexpr std::uint32_t kClientDeprecateEof = 1u << 24;

// Commands.
inline constexpr std::uint8_t kComQuit = 0x01;
inline constexpr std::uint8_t kComInitDb = 0x02;
inline constexpr std::uint8_t kComQuery = 0x03;
inline constexpr std::uint8_t kComFieldList = 0x04;
inline constexpr std::uint8_t kComStatistics = 0x09;
inline constexpr std::uint8_t kComProcessKill = 0x0c;
inline constexpr std::uint8_t kComPing = 0x0e;
inline constexpr std::uint8_t kComChangeUser = 0x11;
inline constexpr std::uint8_t kComStmtPrepare = 0x16;
inline constexpr std::uint8_t kComStmtExecute = 0x17;
inline constexpr std::uint8_t kComStmtSendLongData = 0x18;
inline constexpr std::uint8_t kComStmtClose = 0x19;
inline constexpr std::uint8_t kComStmtReset = 0x1a;
inline constexpr std::uint8_t kComSetOption = 0x1b;
inline constexpr std::uint8_t kComStmtFetch = 0x1c;
inline constexpr std::uint8_t kComResetConnection = 0x1f;

// Server status flags.
inline constexpr std::uint16_t kServerStatusInTrans = 1;
inline constexpr std::uint16_t kServerStatusAutocommit = 2;
inline constexpr std::uint16_t kServerMoreResultsExist = 8;
inline constexpr std::uint16_t kServerStatusCursorExists = 64;
inline constexpr std::uint8_t kComBinlogDump = 0x12;
inline constexpr std::uint8_t kComRegisterSlave = 0x15;

// Largest payload of one packet; a payload this long continues in the next packet.
inline constexpr std::size_t kMaxPacketPayload = 0xffffff;

// utf8mb4_general_ci
inline constexpr std::uint8_t kCollationUtf8mb4 = 45;

// An ERR packet's content.
struct ServerError {
  std::uint16_t code = 0;
  std::string sql_state;
  std::string message;
};

// Parses an ERR packet (first byte 0xFF). Returns false when `packet` is not one.
bool ParseErrPacket(std::string_view packet, ServerError* out);

// The error a client sees for a server ERR: kInvalidArgument with "MariaDB error N (STATE): msg".
Error ToError(const ServerError& e);

// mysql_native_password: SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password))); empty for "".
std::string NativePasswordScramble(std::string_view password, std::string_view nonce);

// `name` as a backquoted identifier, with backquotes doubled.
std::string QuoteIdentifier(std::string_view name);

// `value` as a single-quoted SQL string literal with backslashes and quotes escaped.
std::string QuoteString(std::string_view value);

// Lowercase hex of bytes (debugging and tests).
std::string HexBytes(std::string_view bytes);

}  // namespace scion::mysql
