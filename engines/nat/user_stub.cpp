// Placeholder until the user engine lands: exit 4, one line.
#include "core/base/errors.h"
#include "engines/nat/options.h"

namespace edge::nat {
int run_user(const Options&) { throw Fatal(Exit::environment, "nat: the user engine is not built yet in this version of edge"); }
}  // namespace edge::nat
