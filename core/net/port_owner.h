// Who holds a listening TCP port (or a bound UDP port) on this machine: for the error that
// refuses to start on a port another program listens on ("held by pid 812 (nginx)"). Read from /proc; best effort
// (another user's processes are not visible without privilege).
#pragma once
#include <cstdint>
#include <string>

namespace edge {

enum class PortProto { tcp, udp };

// "pid 812 (nginx)", or "" when no listener is found or its process is not visible.
std::string port_owner(uint16_t port, PortProto proto = PortProto::tcp);

}  // namespace edge
