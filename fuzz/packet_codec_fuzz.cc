// Fuzz target: the packet codec. ByteReader (every read on random input must stay inside its
// buffer, and failure must be sticky), ByteWriter/ByteReader round trips, ERR packet parsing,
// ReplyTracker on a stream of pseudo-packets, and the client's HandshakeResponse41 read back by
// the server's parser.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "mysql/client_handshake.h"
#include "mysql/protocol.h"
#include "mysql/reply.h"
#include "mysql/server_handshake.h"
#include "mysql/wire.h"

namespace {

using namespace scion::mysql;

void Require(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "packet_codec_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

bool Inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// The first byte says how many of the following bytes are operations; the rest is the buffer
// the reader reads.
void CheckByteReader(std::string_view in) {
  if (in.empty()) return;
  std::size_t n_ops = std::min<std::size_t>(static_cast<std::uint8_t>(in[0]) % 32, in.size() - 1);
  std::string_view ops = in.substr(1, n_ops);
  std::string_view buffer = in.substr(1 + n_ops);
  ByteReader r(buffer);
  for (char op_char : ops) {
    auto op = static_cast<std::uint8_t>(op_char);
    int width = 1 + (op >> 4) % 8;  // 1..8
    bool was_ok = r.ok();
    std::size_t before = r.position();
    std::size_t consumed = 0;  // what a successful read must have consumed; 0 = unknown
    std::string_view view;
    bool is_null = false;
    switch (op % 14) {
      case 0: r.UintLE(width); consumed = static_cast<std::size_t>(width); break;
      case 1: r.UintBE(width); consumed = static_cast<std::size_t>(width); break;
      case 2: r.U8(); consumed = 1; break;
      case 3: r.U16(); consumed = 2; break;
      case 4: r.U24(); consumed = 3; break;
      case 5: r.U32(); consumed = 4; break;
      case 6: r.U64(); consumed = 8; break;
      case 7: r.LenencInt(&is_null); break;
      case 8: view = r.Bytes(op >> 3); consumed = op >> 3; Require(!r.ok() || view.size() == consumed, "Bytes(n) gives n bytes"); break;
      case 9: view = r.LenencString(&is_null); break;
      case 10: view = r.NulString(); Require(view.find('\0') == std::string_view::npos, "NulString stops at NUL"); break;
      case 11: view = r.Rest(); Require(r.empty(), "Rest consumes everything"); break;
      case 12: r.Skip(op >> 2); consumed = op >> 2; break;
      case 13: Require(r.peek() == (r.empty() ? 0 : static_cast<std::uint8_t>(buffer[r.position()])), "peek"); break;
    }
    Require(Inside(view, buffer), "returned bytes lie inside the buffer");
    Require(r.position() <= buffer.size(), "position within the buffer");
    Require(r.remaining() == buffer.size() - r.position(), "remaining = size - position");
    Require(Inside(r.rest(), buffer), "rest() inside the buffer");
    Require(was_ok || !r.ok(), "failure is sticky");
    if (r.ok() && was_ok && consumed > 0) Require(r.position() == before + consumed, "a read consumes its width");
    if (r.ok() && was_ok) Require(r.position() >= before, "reads move forward");
  }
}

// Whatever ByteWriter writes, ByteReader reads back.
void CheckWriterRoundTrip(std::string_view in) {
  FuzzedDataProvider p(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
  std::uint64_t a = p.ConsumeIntegral<std::uint64_t>();
  std::uint64_t b = p.ConsumeIntegralInRange<std::uint64_t>(0, 1u << 25);  // around the 2/3/8-byte edges
  std::uint32_t c = p.ConsumeIntegral<std::uint32_t>();
  std::string s = p.ConsumeRandomLengthString(300);
  std::string z = p.ConsumeRandomLengthString(64);
  std::erase(z, '\0');
  ByteWriter w;
  w.LenencInt(a);
  w.LenencInt(b);
  w.U32(c);
  w.LenencString(s);
  w.NulString(z);
  w.UintLE(a, 8);
  std::string out = w.Take();
  ByteReader r(out);
  bool is_null = true;
  Require(r.LenencInt(&is_null) == a && !is_null, "lenenc int round-trips");
  Require(r.LenencInt() == b, "lenenc int round-trips near the edges");
  Require(r.U32() == c, "u32 round-trips");
  Require(r.LenencString() == s, "lenenc string round-trips");
  Require(r.NulString() == z, "NUL string round-trips");
  Require(r.U64() == a, "u64 round-trips");
  Require(r.ok() && r.empty(), "nothing left over");
}

void CheckErrPacket(std::string_view in) {
  ServerError e;
  if (!ParseErrPacket(in, &e)) {
    Require(in.empty() || static_cast<std::uint8_t>(in[0]) != 0xff, "0xFF packets are ERR packets");
    return;
  }
  Require(e.sql_state.size() <= 5, "SQL state at most 5 bytes");
  Require(e.message.size() < in.size(), "message fits in the packet");
  (void)ToError(e);
}

// Byte 0 picks the reply kind (and CLIENT_DEPRECATE_EOF); then each pseudo-packet is a size byte,
// a length byte (high bit: the packet is longer than its head, up to ~32 MB) and the head bytes.
void CheckReplyTracker(std::string_view in) {
  if (in.empty()) return;
  auto mode = static_cast<std::uint8_t>(in[0]);
  auto kind = static_cast<ReplyKind>(mode % 6);
  ReplyTracker t(kind, (mode & 0x80) != 0);
  std::size_t i = 1;
  while (i + 2 <= in.size()) {
    std::size_t head_size = std::min<std::size_t>(static_cast<std::uint8_t>(in[i]), in.size() - i - 2);
    auto extra_byte = static_cast<std::uint8_t>(in[i + 1]);
    std::size_t extra = (extra_byte & 0x80) ? static_cast<std::size_t>(extra_byte & 0x7f) << 18 : 0;
    std::string_view head = in.substr(i + 2, head_size);
    i += 2 + head_size;
    bool was_done = t.done();
    auto r = t.OnPacket(head, head.size() + extra);
    if (!r) {
      Require(r.error().code == scion::ErrorCode::kProtocol, "a bad reply is kProtocol");
      return;
    }
    Require(!was_done, "no packet is accepted after the end of the reply");
    Require(*r == t.done(), "OnPacket says true exactly when the reply is done");
    if (*r) {
      auto after = t.OnPacket(std::string_view("\x00\x00\x00\x02\x00\x00\x00", 7), 7);
      Require(!after.has_value(), "a packet after the end is refused");
      return;
    }
  }
}

std::string WithoutNul(std::string s) {
  std::erase(s, '\0');
  return s;
}

// The HandshakeResponse41 our client builds, read by our server's parser.
void CheckHandshakeRoundTrip(std::string_view in) {
  FuzzedDataProvider p(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
  LoginRequest req;
  req.capabilities = p.ConsumeIntegral<std::uint32_t>();
  req.collation = p.ConsumeIntegral<std::uint8_t>();
  req.user = WithoutNul(p.ConsumeRandomLengthString(300));
  req.auth_response = p.ConsumeRandomLengthString(300);
  if (!(req.capabilities & kClientPluginAuthLenencData) && req.auth_response.size() > 255) {
    req.auth_response.resize(255);  // the 1-byte length form cannot say more
  }
  req.database = WithoutNul(p.ConsumeRandomLengthString(80));
  req.auth_plugin = WithoutNul(p.ConsumeRandomLengthString(40));
  auto h = ParseHandshakeResponse(BuildHandshakeResponse(req));
  if (req.user.size() > 256) {
    Require(!h.has_value(), "over-long user names are refused");
    return;
  }
  Require(h.has_value(), "our client's handshake response parses");
  Require(!h->ssl_request, "a full response is not an SSLRequest");
  Require(h->user == req.user, "user round-trips");
  Require(h->database == req.database, "database round-trips");
  Require(h->auth_response == req.auth_response, "auth response round-trips");
  Require(h->collation == req.collation, "collation round-trips");
  if (req.capabilities & kClientPluginAuth) Require(h->auth_plugin == req.auth_plugin, "plugin round-trips");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckByteReader(in);
  CheckWriterRoundTrip(in);
  CheckErrPacket(in);
  CheckReplyTracker(in);
  CheckHandshakeRoundTrip(in);
  return 0;
}
