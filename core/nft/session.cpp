// The process's one libnftables context; see session.h.
#include "core/nft/session.h"

#include <nftables/libnftables.h>

#include "core/base/errors.h"

namespace edge::nft {

Session::Session() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
  if (!ctx_) throw Fatal(Exit::environment, "libnftables could not create a context");
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

Session::~Session() { nft_ctx_free(ctx_); }

Result Session::run(const std::string& commands, bool json) {
  nft_ctx_output_set_flags(ctx_, json ? NFT_CTX_OUTPUT_JSON : 0);
  Result r;
  r.ok = nft_run_cmd_from_buffer(ctx_, commands.c_str()) == 0;
  if (const char* out = nft_ctx_get_output_buffer(ctx_)) r.output = out;
  if (const char* err = nft_ctx_get_error_buffer(ctx_)) r.error = err;
  return r;
}

Result Session::check(const std::string& commands) {
  nft_ctx_set_dry_run(ctx_, true);
  Result r = run(commands);
  nft_ctx_set_dry_run(ctx_, false);
  return r;
}

}  // namespace edge::nft
