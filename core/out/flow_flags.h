// A flow's status flags as both outputs show them: the table's FLAGS column and the JSON
// booleans are rendered from this one list, so they cannot disagree about a flow.
#pragma once
#include <string_view>

#include "core/flow/flow.h"

namespace edge {

struct FlowFlag {
  std::string_view name;   // the table's word and the JSON key
  bool Flow::*member;
};

// Names as conntrack-tools prints them ([ASSURED], [UNREPLIED]), lower case.
inline constexpr FlowFlag kFlowFlags[] = {{"assured", &Flow::assured}, {"unreplied", &Flow::unreplied}};

}  // namespace edge
