// JSON rendering of flows with Boost.JSON; each flow is built in a small arena, then serialized.
#include "core/out/flow_json.h"

#include <exception>
#include <boost/json.hpp>

#include "core/base/text.h"
#include "core/out/flow_flags.h"

namespace edge {
namespace json = boost::json;

namespace {

json::object tuple_json(const Tuple& t, uint8_t proto, const json::storage_ptr& sp) {
  json::object o(sp);
  o.reserve(5);
  o.emplace("src", json::string(t.src.str(), sp));
  o.emplace("dst", json::string(t.dst.str(), sp));
  if (proto_is_icmp(proto)) {
    o.emplace("type", t.icmp_type);
    o.emplace("code", t.icmp_code);
    o.emplace("id", t.icmp_id);
  } else if (proto_has_ports(proto)) {
    o.emplace("sport", t.sport);
    o.emplace("dport", t.dport);
  }
  return o;
}

json::object counters_json(const Counters& c, const json::storage_ptr& sp) {
  json::object o(sp);
  o.emplace("packets", c.packets);
  o.emplace("bytes", c.bytes);
  return o;
}

}  // namespace

json::object flow_to_json(const Flow& f, json::storage_ptr sp) {
  json::object o(sp);
  o.reserve(14);
  o.emplace("origin", json::string(f.origin, sp));
  o.emplace("family", f.family == Family::v4 ? "ipv4" : "ipv6");
  o.emplace("proto", json::string(proto_label(f.proto), sp));
  if (f.state.empty()) o.emplace("state", nullptr);
  else o.emplace("state", json::string(f.state, sp));
  o.emplace("timeout", f.timeout);
  o.emplace("mark", f.mark);
  o.emplace("zone", f.zone);
  if (f.id) o.emplace("id", f.id);
  o.emplace("orig", tuple_json(f.orig, f.proto, sp));
  o.emplace("reply", tuple_json(f.reply, f.proto, sp));
  json::array nat(sp);
  if (f.snat) nat.emplace_back("snat");
  if (f.dnat) nat.emplace_back("dnat");
  o.emplace("nat", std::move(nat));
  for (const FlowFlag& flag : kFlowFlags) o.emplace(flag.name, f.*flag.member);
  if (f.orig_counters && f.reply_counters) {
    json::object c(sp);
    c.emplace("orig", counters_json(*f.orig_counters, sp));
    c.emplace("reply", counters_json(*f.reply_counters, sp));
    o.emplace("counters", std::move(c));
  } else {
    o.emplace("counters", nullptr);
  }
  return o;
}

JsonFlowWriter::JsonFlowWriter(std::FILE* out, Mode mode) : out_(out), mode_(mode), uncaught_(std::uncaught_exceptions()) {
  if (mode_ == Mode::array) buf_ += '[';
}

JsonFlowWriter::~JsonFlowWriter() {
  // Unwinding: the command failed, and a failed command prints nothing more to stdout (not an
  // empty "[]" that reads as "no flows"); what was already streamed stays an unclosed array.
  if (std::uncaught_exceptions() > uncaught_) return;
  if (mode_ == Mode::array) buf_ += count_ ? "\n]\n" : "]\n";
  flush();
}

void JsonFlowWriter::append(const json::object& o) {
  if (mode_ == Mode::array) buf_ += count_ ? ",\n" : "\n";
  ++count_;
  json::serializer sr;
  sr.reset(&o);
  char chunk[4096];
  const size_t start = buf_.size();
  while (!sr.done()) buf_.append(sr.read(chunk, sizeof chunk));
  // Strings may hold any bytes (an edge flow's origin comes over a socket): output is UTF-8.
  if (!is_valid_utf8(std::string_view(buf_).substr(start))) buf_.replace(start, std::string::npos, valid_utf8(std::string_view(buf_).substr(start)));
  if (mode_ == Mode::lines) {
    buf_ += '\n';
    flush();  // events: each line is visible as it happens
  } else if (buf_.size() > (1 << 16)) {
    std::fwrite(buf_.data(), 1, buf_.size(), out_);
    buf_.clear();
  }
}

void JsonFlowWriter::write(const Flow& f) {
  unsigned char arena[4096];
  json::monotonic_resource mr(arena, sizeof arena);
  append(flow_to_json(f, &mr));
}

void JsonFlowWriter::write(const json::object& o) { append(o); }

void JsonFlowWriter::flush() {
  if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), out_);
  buf_.clear();
  std::fflush(out_);
}

}  // namespace edge
