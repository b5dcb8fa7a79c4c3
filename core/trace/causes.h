// The fixed vocabulary of `edge trace`: layers in probe order, the causes each can report, and
// one exit code per cause (a band of ten per layer). The man page's table is this table.
#pragma once
#include <optional>
#include <string_view>
#include <vector>

namespace edge::trace {

struct CauseInfo {
  std::string_view layer;
  std::string_view cause;
  int exit_code;
  std::string_view meaning;
};

// Layers in the order they are probed.
const std::vector<std::string_view>& layer_names();
// Every cause of every layer, in exit-code order.
const std::vector<CauseInfo>& all_causes();
// The exit code for a failed layer's cause; nullopt for an unknown pair (a bug).
std::optional<int> exit_code_for(std::string_view layer, std::string_view cause);

}  // namespace edge::trace
