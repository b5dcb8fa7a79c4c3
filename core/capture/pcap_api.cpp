// Resolving libpcap's functions once, thread-safely (a function-local static).
#include "core/capture/pcap_api.h"

#include <dlfcn.h>

#include <type_traits>

namespace edge {

const PcapApi* pcap_api() {
  static const PcapApi* api = []() -> const PcapApi* {
    void* h = dlopen("libpcap.so.0.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libpcap.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) return nullptr;
    static PcapApi a;
    bool ok = true;
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
      ok = ok && fn;
    };
    load(a.create, "pcap_create");
    load(a.set_snaplen, "pcap_set_snaplen");
    load(a.set_immediate_mode, "pcap_set_immediate_mode");
    load(a.set_timeout, "pcap_set_timeout");
    load(a.activate, "pcap_activate");
    load(a.geterr, "pcap_geterr");
    load(a.compile, "pcap_compile");
    load(a.setfilter, "pcap_setfilter");
    load(a.freecode, "pcap_freecode");
    load(a.setnonblock, "pcap_setnonblock");
    load(a.dispatch, "pcap_dispatch");
    load(a.breakloop, "pcap_breakloop");
    load(a.close, "pcap_close");
    load(a.dump_open, "pcap_dump_open");
    load(a.dump, "pcap_dump");
    load(a.dump_flush, "pcap_dump_flush");
    load(a.dump_close, "pcap_dump_close");
    load(a.lib_version, "pcap_lib_version");
    return ok ? &a : nullptr;
  }();
  return api;
}

}  // namespace edge
