// The header storage of every message a proxy carries: Beast's fields on the per-thread pool
// (core/base/pool_alloc.h), so parsing, rewriting and forwarding a head allocates nothing once
// a thread is warm.
#pragma once
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include "core/base/pool_alloc.h"

namespace edge::http {

using Fields = boost::beast::http::basic_fields<PoolAllocator<char>>;
using RequestHead = boost::beast::http::request_header<Fields>;
using ResponseHead = boost::beast::http::response_header<Fields>;

}  // namespace edge::http
