#include "api/router.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdint>
#include <set>
#include <vector>

#include "base/clock.h"
#include "base/log.h"

namespace scion::api {
namespace {
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;  // keeps the documented field order of stream lines
using control::Branch;
using control::BranchState;
using control::Database;
using control::Password;

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
};

Target ParseTarget(std::string_view target) {
  Target t;
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  if (qpos != std::string_view::npos) {
    std::string_view q = target.substr(qpos + 1);
    while (!q.empty()) {
      auto amp = q.find('&');
      std::string_view kv = q.substr(0, amp);
      auto eq = kv.find('=');
      t.query[UrlDecode(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : UrlDecode(kv.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      q = q.substr(amp + 1);
    }
  }
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    t.segments.push_back(UrlDecode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path = path.substr(slash);
  }
  return t;
}

Response Json(int status, const json& body) { return {status, body.dump()}; }

Response ErrorResponse(const Error& e) {
  json body = {{"code", ErrorCodeName(e.code)}, {"message", e.message}};
  if (!e.hint.empty()) body["hint"] = e.hint;
  return Json(HttpStatus(e.code), body);
}

Response ErrorResponse(ErrorCode code, std::string message, std::string hint = {}) {
  return ErrorResponse(Error{code, std::move(message), std::move(hint)});
}

json Nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

class Handler {
 public:
  Handler(control::ControlPlane& control, const Request& req, const std::string& version)
      : control_(control), req_(req), version_(version), target_(ParseTarget(req.target)) {}

  Response Run() {
    const auto& seg = target_.segments;
    if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "health" && req_.method == "GET") {
      return Json(200, {{"status", "ok"}, {"version", version_}});
    }
    if (seg.empty() || seg[0] != "v1") return NotFound();
    auto token = control_.Authenticate(req_.authorization);
    if (!token) return ErrorResponse(token.error());
    token_id_ = token->id;
    if (seg.size() == 2 && seg[1] == "user" && req_.method == "GET") {
      return Json(200, {{"type", "ServiceToken"}, {"id", token->id}, {"name", token->name}});
    }
    if (seg.size() == 2 && seg[1] == "gateway" && req_.method == "GET") {
      return Json(200, {{"type", "Gateway"},
                        {"address", Nullable(control_.GatewayAddress())},
                        {"ca_certificate", Nullable(control_.GatewayCa())}});
    }
    if (seg.size() < 3 || seg[1] != "organizations") return NotFound();
    org_ = seg[2];
    if (seg.size() == 3) return Organization();
    if (seg[3] != "databases") return NotFound();
    if (seg.size() == 4) return Databases();
    db_ = seg[4];
    if (seg.size() == 5) return OneDatabase();
    if (seg.size() == 6 && seg[5] == "passwords") return DatabasePasswords();
    if (seg[5] == "deploy-requests") return DeployRequests(seg);
    if (seg[5] != "branches") return NotFound();
    if (seg.size() == 6) return Branches();
    branch_ = seg[6];
    if (seg.size() == 7) return OneBranch();
    if (seg[7] == "passwords") {
      if (seg.size() == 8) return Passwords();
      if (seg.size() == 9) return OnePassword(seg[8]);
      if (seg.size() == 10 && seg[9] == "renew" && req_.method == "POST") return RenewPassword(seg[8]);
      return NotFound();
    }
    if (seg.size() == 8) return BranchAction(seg[7]);
    if (seg.size() == 9 && seg[7] == "schema" && seg[8] == "lint" && req_.method == "GET") return Lint();
    return NotFound();
  }

 private:
  Response NotFound() {
    return ErrorResponse(ErrorCode::kNotFound, fmt::format("no API route {} {}", req_.method, req_.target));
  }
  Response MethodNotAllowed() {
    return ErrorResponse(ErrorCode::kInvalidArgument,
                         fmt::format("method {} is not allowed on {}", req_.method, req_.target));
  }

  Result<json> Body() {
    if (req_.body.empty()) return json::object();
    auto parsed = json::parse(req_.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "the request body is not a JSON object");
    }
    return parsed;
  }

  Result<std::string> StringField(const json& body, const char* name, bool required) {
    if (!body.contains(name) || body[name].is_null()) {
      if (required) return MakeError(ErrorCode::kInvalidArgument, fmt::format("missing field \"{}\"", name));
      return std::string();
    }
    if (!body[name].is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("field \"{}\" must be a string", name));
    }
    return body[name].get<std::string>();
  }

  Result<control::PageRequest> PageParams() {
    control::PageRequest p;
    for (auto [name, out] : {std::pair{"page", &p.page}, std::pair{"per_page", &p.per_page}}) {
      auto it = target_.query.find(name);
      if (it == target_.query.end()) continue;
      int v = 0;
      auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
      if (ec != std::errc() || ptr != it->second.data() + it->second.size() || v < 1) {
        return MakeError(ErrorCode::kInvalidArgument, fmt::format("\"{}\" must be a positive integer", name));
      }
      *out = v;
    }
    return p;
  }

  template <typename T, typename F>
  json ListJson(const control::Page<T>& page, F&& to_json) {
    json data = json::array();
    for (const auto& item : page.items) data.push_back(to_json(item));
    bool has_next = page.page * page.per_page < page.total;
    return {{"type", "list"},
            {"current_page", page.page},
            {"next_page", has_next ? json(page.page + 1) : json(nullptr)},
            {"prev_page", page.page > 1 ? json(page.page - 1) : json(nullptr)},
            {"per_page", page.per_page},
            {"total_count", page.total},
            {"total_pages", (page.total + page.per_page - 1) / page.per_page},
            {"data", std::move(data)}};
  }

  json BranchJson(const Branch& b) {
    auto inst = control_.InstanceStatusOf(b);
    json j = {{"id", b.id},
              {"type", "Branch"},
              {"name", b.name},
              {"database", b.database_name},
              {"parent_branch", Nullable(b.parent_branch)},
              {"production", b.production},
              {"safe_migrations", b.safe_migrations},
              {"ready", b.state == BranchState::kReady},
              {"state", control::BranchStateName(b.state)},
              {"created_at", FormatTimestamp(b.created_at)},
              {"updated_at", FormatTimestamp(b.updated_at)},
              {"instance",
               {{"state", fleet::InstanceStateName(inst.state)},
                {"pid", inst.pid == 0 ? json(nullptr) : json(inst.pid)},
                {"restarts", inst.restarts},
                {"server_id", b.server_id}}}};
    if (!b.error.empty()) j["error"] = b.error;
    if (!inst.last_error.empty()) j["instance"]["last_error"] = inst.last_error;
    return j;
  }

  json DatabaseJson(const Database& d) {
    json j = {{"id", d.id},
              {"type", "database"},
              {"kind", "mysql"},
              {"name", d.name},
              {"default_branch", d.default_branch},
              {"created_at", FormatTimestamp(d.created_at)},
              {"updated_at", FormatTimestamp(d.updated_at)}};
    auto approval = control_.RequireApprovalForDeploy(d);
    j["require_approval_for_deploy"] = approval && *approval;
    auto branches = control_.AllBranchesOf(d);
    std::string state = "pending";
    int production = 0;
    if (branches) {
      for (const auto& b : *branches) {
        if (b.production) ++production;
        if (b.name == d.default_branch) state = control::BranchStateName(b.state);
      }
      j["branches_count"] = branches->size();
      j["production_branches_count"] = production;
      j["development_branches_count"] = static_cast<int>(branches->size()) - production;
    }
    j["state"] = state;
    j["ready"] = state == "ready";
    return j;
  }

  // PlanetScale's password object. `plain_text` only in the answer to its creation.
  json PasswordJson(const Password& p, const std::string& access_host_url, std::int64_t now) {
    return {{"id", p.id},
            {"type", "Password"},
            {"name", p.name},
            {"role", p.role},
            {"username", p.username},
            {"access_host_url", access_host_url},
            {"ttl_seconds", p.ttl_seconds},
            {"expires_at", p.expires_at == 0 ? json(nullptr) : json(FormatTimestamp(p.expires_at))},
            {"created_at", FormatTimestamp(p.created_at)},
            {"renewable", p.ttl_seconds > 0},
            {"expired", p.expires_at != 0 && p.expires_at <= now},
            {"database", p.database_name},
            {"database_branch", {{"id", p.branch_id}, {"name", p.branch_name}}}};
  }

  Response PasswordList(const std::optional<std::string>& branch) {
    auto page = PageParams();
    if (!page) return ErrorResponse(page.error());
    auto list = control_.ListPasswords(org_, db_, branch, *page);
    if (!list) return ErrorResponse(list.error());
    std::string host = control_.GatewayAddress();
    auto now = NowUnixMillis();
    return Json(200, ListJson(*list, [&](const Password& p) { return PasswordJson(p, host, now); }));
  }

  // GET .../databases/{db}/passwords: the passwords of every branch.
  // .../deploy-requests[/{number}[/{action}]].
  Response DeployRequests(const std::vector<std::string>& seg) {
    if (seg.size() == 6) {
      if (req_.method == "GET") {
        auto all = control_.ListDeployRequests(org_, db_);
        if (!all) return ErrorResponse(all.error());
        json data = json::array();
        for (auto& d : *all) data.push_back(Public(d));
        return Json(200, {{"type", "list"}, {"current_page", 1}, {"data", data}});
      }
      if (req_.method != "POST") return MethodNotAllowed();
      auto body = Body();
      if (!body) return ErrorResponse(body.error());
      auto branch = StringField(*body, "branch", true);
      if (!branch) return ErrorResponse(branch.error());
      auto into = StringField(*body, "into_branch", false);
      if (!into) return ErrorResponse(into.error());
      auto notes = StringField(*body, "notes", false);
      if (!notes) return ErrorResponse(notes.error());
      bool auto_apply = !body->contains("auto_apply") || (*body)["auto_apply"] != false;
      auto created = control_.CreateDeployRequest(org_, db_, *branch, *into, *notes, auto_apply, token_id_);
      if (!created) return ErrorResponse(created.error());
      return Json(201, Public(*created));
    }
    int number = 0;
    try {
      number = std::stoi(seg[6]);
    } catch (...) {
      number = 0;
    }
    if (number <= 0) {
      return ErrorResponse(ErrorCode::kInvalidArgument, fmt::format("\"{}\" is not a deploy request number", seg[6]),
                           fmt::format("run: scion deploy-request list {}", db_));
    }
    if (seg.size() == 7) {
      if (req_.method != "GET") return MethodNotAllowed();
      auto dr = control_.GetDeployRequest(org_, db_, number);
      if (!dr) return ErrorResponse(dr.error());
      return Json(200, Public(*dr));
    }
    if (seg.size() != 8) return NotFound();
    const std::string& action = seg[7];
    if (action == "diff" && req_.method == "GET") {
      auto dr = control_.GetDeployRequest(org_, db_, number);
      if (!dr) return ErrorResponse(dr.error());
      json data = json::array();
      for (const auto& op : (*dr)["operations"]) data.push_back(op);
      return Json(200, {{"type", "list"}, {"data", data}, {"conflicts", (*dr)["conflicts"]}});
    }
    if (req_.method != "POST") return MethodNotAllowed();
    auto body = req_.body.empty() ? Result<json>(json::object()) : Body();
    if (!body) return ErrorResponse(body.error());
    control::ControlPlane::DeployActionOptions o;
    o.instant = body->value("instant_ddl", false);
    o.by = token_id_;
    std::string name = action;
    if (action == "reviews") {
      name = "review";
      o.approve = body->value("state", "") == "approved";
      o.comment = body->value("body", "");
    }
    auto r = control_.DeployRequestAction(org_, db_, number, name, o);
    if (!r) return ErrorResponse(r.error());
    return Json(200, Public(*r));
  }

  // A deploy request as the API shows it (internal bookkeeping fields removed).
  static json Public(json dr) {
    dr.erase("revert_window_ends_at_ms");
    dr.erase("database_id");
    dr.erase("branch_id");
    dr.erase("into_branch_id");
    for (auto& op : dr["operations"]) op.erase("checkpoint");
    return dr;
  }

  Response DatabasePasswords() {
    if (req_.method != "GET") return MethodNotAllowed();
    return PasswordList(std::nullopt);
  }

  // GET, POST .../branches/{branch}/passwords. POST body: {"name", "role"?, "ttl"? (seconds)}.
  Response Passwords() {
    if (req_.method == "GET") return PasswordList(branch_);
    if (req_.method != "POST") return MethodNotAllowed();
    auto body = Body();
    if (!body) return ErrorResponse(body.error());
    auto name = StringField(*body, "name", true);
    if (!name) return ErrorResponse(name.error());
    auto role = StringField(*body, "role", false);
    if (!role) return ErrorResponse(role.error());
    std::int64_t ttl = 0;
    if (body->contains("ttl") && !(*body)["ttl"].is_null()) {
      const auto& v = (*body)["ttl"];
      if (!v.is_number_integer()) {
        return ErrorResponse(ErrorCode::kInvalidArgument, "field \"ttl\" must be a whole number of seconds",
                             "e.g. 3600 for one hour; omit it or pass 0 for a password that never expires");
      }
      ttl = v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t{INT64_MAX} ? INT64_MAX
                                                                                        : v.get<std::int64_t>();
    }
    auto created = control_.CreatePassword(org_, db_, branch_, *name, *role, ttl, token_id_);
    if (!created) return ErrorResponse(created.error());
    json j = PasswordJson(created->password, control_.GatewayAddress(), NowUnixMillis());
    j["plain_text"] = created->plain_text;
    return Json(201, j);
  }

  // GET, DELETE .../branches/{branch}/passwords/{id}.
  Response OnePassword(const std::string& id) {
    if (req_.method == "GET") {
      auto p = control_.GetPassword(org_, db_, branch_, id);
      if (!p) return ErrorResponse(p.error());
      return Json(200, PasswordJson(*p, control_.GatewayAddress(), NowUnixMillis()));
    }
    if (req_.method == "DELETE") {
      auto r = control_.DeletePassword(org_, db_, branch_, id);
      if (!r) return ErrorResponse(r.error());
      return Response{204, ""};
    }
    return MethodNotAllowed();
  }

  // POST .../branches/{branch}/passwords/{id}/renew.
  Response RenewPassword(const std::string& id) {
    auto p = control_.RenewPassword(org_, db_, branch_, id);
    if (!p) return ErrorResponse(p.error());
    return Json(200, PasswordJson(*p, control_.GatewayAddress(), NowUnixMillis()));
  }

  Response Organization() {
    if (req_.method != "GET") return MethodNotAllowed();
    auto org = control_.GetOrganization(org_);
    if (!org) return ErrorResponse(org.error());
    return Json(200, {{"id", org->id},
                      {"type", "organization"},
                      {"name", org->name},
                      {"created_at", FormatTimestamp(org->created_at)}});
  }

  Response Databases() {
    if (req_.method == "GET") {
      auto page = PageParams();
      if (!page) return ErrorResponse(page.error());
      auto list = control_.ListDatabases(org_, *page);
      if (!list) return ErrorResponse(list.error());
      return Json(200, ListJson(*list, [this](const Database& d) { return DatabaseJson(d); }));
    }
    if (req_.method == "POST") {
      auto body = Body();
      if (!body) return ErrorResponse(body.error());
      auto name = StringField(*body, "name", true);
      if (!name) return ErrorResponse(name.error());
      auto db = control_.CreateDatabase(org_, *name);
      if (!db) return ErrorResponse(db.error());
      return Json(201, DatabaseJson(*db));
    }
    return MethodNotAllowed();
  }

  Response OneDatabase() {
    if (req_.method == "GET") {
      auto db = control_.GetDatabase(org_, db_);
      if (!db) return ErrorResponse(db.error());
      return Json(200, DatabaseJson(*db));
    }
    if (req_.method == "DELETE") {
      auto it = target_.query.find("force");
      bool force = it != target_.query.end() && (it->second == "true" || it->second == "1" || it->second.empty());
      auto r = control_.DeleteDatabase(org_, db_, force);
      if (!r) return ErrorResponse(r.error());
      return Response{204, ""};
    }
    if (req_.method == "PATCH") {
      auto body = Body();
      if (!body) return ErrorResponse(body.error());
      if (body->contains("require_approval_for_deploy")) {
        if (!(*body)["require_approval_for_deploy"].is_boolean()) {
          return ErrorResponse(ErrorCode::kInvalidArgument, "field \"require_approval_for_deploy\" must be true or false");
        }
        auto r = control_.SetRequireApprovalForDeploy(org_, db_, (*body)["require_approval_for_deploy"].get<bool>());
        if (!r) return ErrorResponse(r.error());
      }
      auto db = control_.GetDatabase(org_, db_);
      if (!db) return ErrorResponse(db.error());
      return Json(200, DatabaseJson(*db));
    }
    return MethodNotAllowed();
  }

  Response Branches() {
    if (req_.method == "GET") {
      auto page = PageParams();
      if (!page) return ErrorResponse(page.error());
      auto list = control_.ListBranches(org_, db_, *page);
      if (!list) return ErrorResponse(list.error());
      return Json(200, ListJson(*list, [this](const Branch& b) { return BranchJson(b); }));
    }
    if (req_.method == "POST") {
      auto body = Body();
      if (!body) return ErrorResponse(body.error());
      auto name = StringField(*body, "name", true);
      if (!name) return ErrorResponse(name.error());
      auto parent = StringField(*body, "parent_branch", false);
      if (!parent) return ErrorResponse(parent.error());
      auto b = control_.CreateBranch(org_, db_, *name, *parent);
      if (!b) return ErrorResponse(b.error());
      return Json(201, BranchJson(*b));
    }
    return MethodNotAllowed();
  }

  Response OneBranch() {
    if (req_.method == "GET") {
      auto b = control_.GetBranch(org_, db_, branch_);
      if (!b) return ErrorResponse(b.error());
      return Json(200, BranchJson(*b));
    }
    if (req_.method == "DELETE") {
      auto r = control_.DeleteBranch(org_, db_, branch_);
      if (!r) return ErrorResponse(r.error());
      return Response{204, ""};
    }
    return MethodNotAllowed();
  }

  Response BranchAction(const std::string& action) {
    Result<Branch> b = MakeError(ErrorCode::kInternal, "unreachable");
    if (action == "promote" && req_.method == "POST") {
      b = control_.Promote(org_, db_, branch_);
    } else if (action == "demote" && req_.method == "POST") {
      b = control_.Demote(org_, db_, branch_);
    } else if (action == "safe-migrations" && (req_.method == "POST" || req_.method == "DELETE")) {
      b = control_.SetSafeMigrations(org_, db_, branch_, req_.method == "POST");
    } else if (action == "safe-migrations" && req_.method == "PUT") {
      auto body = Body();
      if (!body) return ErrorResponse(body.error());
      if (!body->contains("safe_migrations") || !(*body)["safe_migrations"].is_boolean()) {
        return ErrorResponse(ErrorCode::kInvalidArgument, "field \"safe_migrations\" must be true or false");
      }
      b = control_.SetSafeMigrations(org_, db_, branch_, (*body)["safe_migrations"].get<bool>());
    } else if (action == "schema" && req_.method == "GET") {
      return Schema();
    } else if (action == "binlog" && req_.method == "GET") {
      return Binlog();
    } else if (action == "diff" && req_.method == "GET") {
      return BranchDiff();
    } else {
      return NotFound();
    }
    if (!b) return ErrorResponse(b.error());
    return Json(200, BranchJson(*b));
  }

  Response Schema() {
    auto objects = control_.BranchSchema(org_, db_, branch_);
    if (!objects) return ErrorResponse(objects.error());
    json data = json::array();
    for (const auto& o : *objects) {
      data.push_back({{"name", o.name},
                      {"kind", o.kind == schema::ObjectKind::kView ? "view" : "table"},
                      {"raw", o.create_statement}});
    }
    return Json(200, {{"type", "list"}, {"data", std::move(data)}});
  }

  // GET .../branches/{branch}/diff: per changed table or view, the parent's and the branch's
  // CREATE statements and the DDL that turns one into the other.
  Response BranchDiff() {
    auto d = control_.DiffBranch(org_, db_, branch_);
    if (!d) return ErrorResponse(d.error());
    json data = json::array();
    for (const auto& st : d->statements) {
      auto raw = [&](const schema::Schema& s) -> json {
        if (auto t = s.tables.find(st.object); t != s.tables.end()) return t->second.create_sql;
        if (auto v = s.views.find(st.object); v != s.views.end()) return schema::ViewCreateSql(v->second, false);
        return nullptr;
      };
      data.push_back({{"name", st.object},
                      {"kind", schema::ChangeKindName(st.kind)},
                      {"raw", raw(d->branch)},
                      {"parent_raw", raw(d->parent)},
                      {"ddl", st.sql},
                      {"drops_data", st.drops_data},
                      {"instant", st.instant}});
    }
    json body = {{"type", "list"},
                 {"data", std::move(data)},
                 {"lint", FindingsJson(d->findings)},
                 {"verified", d->verified}};
    if (!d->verification_error.empty()) body["verification_error"] = d->verification_error;
    return Json(200, body);
  }

  static json FindingsJson(const std::vector<schema::Finding>& findings) {
    json out = json::array();
    for (const auto& f : findings) {
      out.push_back({{"code", f.code},
                     {"severity", f.severity == schema::Severity::kError ? "error" : "warning"},
                     {"table", f.table},
                     {"column", Nullable(f.column)},
                     {"message", f.message}});
    }
    return out;
  }

  // GET .../branches/{branch}/schema/lint: findings of the branch against its parent.
  Response Lint() {
    auto d = control_.DiffBranch(org_, db_, branch_);
    if (!d) return ErrorResponse(d.error());
    return Json(200, {{"type", "list"}, {"data", FindingsJson(d->findings)}});
  }

  // GET .../branches/{branch}/binlog?from_gtid=G&tables=t1,t2: newline-delimited JSON, one line
  // per row change or DDL, until the client disconnects. A failure after the stream started
  // arrives as a last line {"error": {...}}.
  Response Binlog() {
    std::optional<std::string> from;
    if (auto it = target_.query.find("from_gtid"); it != target_.query.end()) from = it->second;
    std::set<std::string> tables;
    if (auto it = target_.query.find("tables"); it != target_.query.end()) {
      std::string_view list = it->second;
      while (!list.empty()) {
        auto comma = list.find(',');
        if (auto t = list.substr(0, comma); !t.empty()) tables.emplace(t);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
    auto opened = control_.OpenBinlog(org_, db_, branch_, std::move(from), std::move(tables));
    if (!opened) return ErrorResponse(opened.error());
    std::shared_ptr<binlog::BinlogStream> stream(std::move(*opened));
    Response r;
    r.stream = [stream](StreamSink& sink) {
      class Writer : public binlog::ChangeHandler {
       public:
        explicit Writer(StreamSink& sink) : sink_(sink) {}
        bool OnRow(const binlog::RowChange& c) override {
          auto image = [&](const std::vector<binlog::Value>& values) -> ojson {
            if (values.empty()) return ojson(nullptr);
            ojson o = ojson::object();
            for (std::size_t i = 0; i < values.size(); ++i) {
              const auto& name = c.table->columns[i].name;
              o[name.empty() ? "@" + std::to_string(i + 1) : name] = values[i].ToJson();
            }
            return o;
          };
          ojson line = {{"gtid", c.tx->gtid},
                       {"timestamp", FormatTimestamp(std::int64_t{c.tx->timestamp} * 1000)},
                       {"schema", c.table->schema},
                       {"table", c.table->table},
                       {"op", binlog::RowOpName(c.op)},
                       {"before", image(*c.before)},
                       {"after", image(*c.after)}};
          return Emit(line);
        }
        bool OnDdl(const binlog::DdlChange& d) override {
          return Emit({{"gtid", d.tx->gtid},
                       {"timestamp", FormatTimestamp(std::int64_t{d.tx->timestamp} * 1000)},
                       {"schema", d.schema},
                       {"op", "ddl"},
                       {"sql", d.sql}});
        }
        bool OnIdle() override { return sink_.Alive(); }
        bool Emit(const ojson& line) {
          return sink_.Write(line.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n");
        }

       private:
        StreamSink& sink_;
      };
      Writer writer(sink);
      auto result = stream->Run(writer);
      if (!result) {
        ojson err = {{"code", ErrorCodeName(result.error().code)}, {"message", result.error().message}};
        if (!result.error().hint.empty()) err["hint"] = result.error().hint;
        writer.Emit({{"error", err}});
      }
    };
    return r;
  }

  control::ControlPlane& control_;
  const Request& req_;
  const std::string& version_;
  Target target_;
  std::string org_, db_, branch_;
  std::string token_id_;  // the authenticated caller
};

}  // namespace

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 422;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kProtocol: return 400;
    case ErrorCode::kBackendUnavailable: return 503;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

Response Router::Handle(const Request& request) {
  Handler handler(control_, request, version_);
  Response r;
  try {
    r = handler.Run();
  } catch (const std::exception& e) {
    // JSON library or allocation failures: a bug, reported as such without taking the server down.
    spdlog::error("msg=\"request failed\" target={} error={}", log::Quote(request.target), log::Quote(e.what()));
    r = ErrorResponse(ErrorCode::kInternal, "internal error; see the server log");
  }
  spdlog::debug("msg=request method={} target={} status={}", request.method, log::Quote(request.target), r.status);
  return r;
}

}  // namespace scion::api
