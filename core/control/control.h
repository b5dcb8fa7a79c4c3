// The control socket: each running edge engine serves its flow table on a Unix socket
// (/run/edge/<command>-<pid>.sock for root, else /tmp/edge-<uid>/), and `edge conntrack
// --origin edge|all` reads every live one. The socket file is removed when the server goes;
// a file left by a killed process is recognised (nobody answers) and removed by readers.
#pragma once
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/base/fd.h"
#include "core/flow/flow.h"
#include "core/flow/table.h"

namespace edge {

std::string control_dir();

class ControlServer {
 public:
  // Serves `table` as a JSON array of flows to every client that connects. Failure to create
  // the socket is not fatal for the engine: error() says why.
  // `status`, when given, answers a reader that asks for "status" (edge nat status).
  ControlServer(const FlowTable& table, const std::string& command, std::function<std::string()> status = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  const std::string& path() const { return path_; }
  const std::string& error() const { return error_; }

 private:
  const FlowTable& table_;
  std::function<std::string()> status_;
  std::string path_, error_;
  UniqueFd listen_fd_, stop_fd_;
  std::thread thread_;
};

// One reply per live control socket of `command` (every command when empty) to a one-line
// request ("flows" or "status").
struct ControlReply {
  std::string path, text;
};
std::vector<ControlReply> query_control(const std::string& request, const std::string& command);

// The flows of every running edge engine; sockets nobody answers are removed.
std::vector<Flow> read_edge_flows();

// The JSON array a control socket serves, back into flows (the inverse of flow_to_json).
std::vector<Flow> flows_from_json(const std::string& text);

}  // namespace edge
