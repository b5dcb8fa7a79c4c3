// Entering a named network namespace (`ip netns` names, or a path such as /proc/PID/ns/net)
// so the rest of the command runs there. Done once, before any socket is opened.
#pragma once
#include <string>

namespace edge {

// Throws Fatal: usage (no such namespace), privilege (setns needs CAP_SYS_ADMIN).
void enter_netns(const std::string& name_or_path, const std::string& flag);

}  // namespace edge
