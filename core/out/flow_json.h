// A flow as JSON, the shape users script against (see man/edge-conntrack.1):
// {"origin","proto","state","timeout","mark","orig":{..},"reply":{..},"nat":[..],"assured",...}
#pragma once
#include <boost/json/fwd.hpp>
#include <cstdio>
#include <string>

#include "core/flow/flow.h"

namespace edge {

boost::json::object flow_to_json(const Flow& f, boost::json::storage_ptr sp);

// Streams a JSON array of flows (or JSON lines) with constant memory.
class JsonFlowWriter {
 public:
  enum class Mode { array, lines };
  JsonFlowWriter(std::FILE* out, Mode mode);
  ~JsonFlowWriter();  // closes the array and flushes; when unwinding, writes nothing more
  void write(const Flow& f);
  // Writes an arbitrary object (events, notices) in the stream's framing.
  void write(const boost::json::object& o);
  void flush();

 private:
  void append(const boost::json::object& o);
  std::FILE* out_;
  Mode mode_;
  size_t count_ = 0;
  int uncaught_;  // exceptions in flight at construction: more at destruction means failure
  std::string buf_;
};

}  // namespace edge
