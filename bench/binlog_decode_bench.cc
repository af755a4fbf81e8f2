// Decode throughput of row events, single thread, network excluded.
//
// Rows shaped like sysbench's sbtest tables (id INT, k INT, c CHAR(120), pad CHAR(60), utf8mb4),
// encoded exactly as MariaDB writes them into WRITE_ROWS and UPDATE_ROWS events with CRC32
// checksums; each iteration verifies the checksum, parses the header and decodes every row.
#include <benchmark/benchmark.h>

#include <string>

#include "binlog/event.h"
#include "mysql/wire.h"

namespace scion::binlog {
namespace {

TableMap SbtestTable() {
  TableMap t;
  t.table_id = 42;
  t.schema = "sbtest";
  t.table = "sbtest1";
  auto col = [](const char* name, std::uint8_t type, std::uint32_t max_length) {
    Column c;
    c.name = name;
    c.type = type;
    c.max_length = max_length;
    c.collation = 45;
    return c;
  };
  t.columns = {col("id", kTypeLong, 0), col("k", kTypeLong, 0), col("c", kTypeString, 480),
               col("pad", kTypeString, 240)};
  return t;
}

void AppendRow(mysql::ByteWriter& w, std::uint32_t id) {
  w.U8(0);  // null bitmap
  w.U32(id);
  w.U32(id * 7 % 100000);
  std::string c = "83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-"
                  "93426793964-56405065102-33518432330";
  std::string pad = "67847967377-48000963322-62604785301-91415491898-96926520291";
  c[0] = static_cast<char>('0' + id % 10);
  w.U16(static_cast<std::uint16_t>(c.size()));  // CHAR(120) utf8mb4: up to 480 bytes, 2-byte length
  w.Bytes(c);
  w.U8(static_cast<std::uint8_t>(pad.size()));  // CHAR(60) utf8mb4: at most 240 bytes, 1-byte length
  w.Bytes(pad);
}

// A full event: header, body, CRC32.
std::string MakeRowsEvent(std::uint8_t type, int rows) {
  mysql::ByteWriter body;
  body.UintLE(42, 6);
  body.U16(1);
  body.LenencInt(4);
  body.U8(0x0f);
  if (type == kUpdateRowsV1) body.U8(0x0f);
  for (int i = 0; i < rows; ++i) {
    AppendRow(body, static_cast<std::uint32_t>(i + 1));
    if (type == kUpdateRowsV1) AppendRow(body, static_cast<std::uint32_t>(i + 1000001));
  }
  mysql::ByteWriter ev;
  ev.U32(1795510672);
  ev.U8(type);
  ev.U32(101);
  ev.U32(static_cast<std::uint32_t>(kEventHeaderSize + body.str().size() + 4));
  ev.U32(0);
  ev.U16(0);
  ev.Bytes(body.str());
  std::string out = ev.Take();
  mysql::ByteWriter crc;
  crc.U32(Crc32(out));
  out += crc.str();
  return out;
}

void Decode(benchmark::State& state, std::uint8_t type) {
  const int rows_per_event = static_cast<int>(state.range(0));
  TableMap table = SbtestTable();
  std::string event = MakeRowsEvent(type, rows_per_event);
  std::uint64_t rows = 0, checksum = 0;
  for (auto _ : state) {
    auto header = ParseHeader(event);
    auto body = EventBody(event, true);
    if (!header || !body) state.SkipWithError("bad event");
    auto st = DecodeRows(header->type, *body, table, [&](const std::vector<Value>& before,
                                                         const std::vector<Value>& after) {
      ++rows;
      checksum += after.empty() ? before[0].i : after[0].i;
    });
    if (!st) state.SkipWithError(st.error().message.c_str());
  }
  benchmark::DoNotOptimize(checksum);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * event.size()));
}

void BM_DecodeWriteRows(benchmark::State& state) { Decode(state, kWriteRowsV1); }
void BM_DecodeUpdateRows(benchmark::State& state) { Decode(state, kUpdateRowsV1); }

// 1 row per event is what sysbench's single-row statements produce; 40 rows fill MariaDB's
// default 8 KB rows event.
BENCHMARK(BM_DecodeWriteRows)->Arg(1)->Arg(40);
BENCHMARK(BM_DecodeUpdateRows)->Arg(1)->Arg(20);

}  // namespace
}  // namespace scion::binlog

BENCHMARK_MAIN();
