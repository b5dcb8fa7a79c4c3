// libpcap, loaded on first use (dlopen) instead of linked: libpcap pulls in D-Bus, systemd and
// their dependencies, which every edge command would otherwise map and pay for in memory,
// though only `edge trace` ever captures. nullptr when libpcap is not installed.
#pragma once
#include <pcap/pcap.h>

namespace edge {

struct PcapApi {
  decltype(&::pcap_create) create;
  decltype(&::pcap_set_snaplen) set_snaplen;
  decltype(&::pcap_set_immediate_mode) set_immediate_mode;
  decltype(&::pcap_set_timeout) set_timeout;
  decltype(&::pcap_activate) activate;
  decltype(&::pcap_geterr) geterr;
  decltype(&::pcap_compile) compile;
  decltype(&::pcap_setfilter) setfilter;
  decltype(&::pcap_freecode) freecode;
  decltype(&::pcap_setnonblock) setnonblock;
  decltype(&::pcap_dispatch) dispatch;
  decltype(&::pcap_breakloop) breakloop;
  decltype(&::pcap_close) close;
  decltype(&::pcap_dump_open) dump_open;
  decltype(&::pcap_dump) dump;
  decltype(&::pcap_dump_flush) dump_flush;
  decltype(&::pcap_dump_close) dump_close;
  decltype(&::pcap_lib_version) lib_version;
};

const PcapApi* pcap_api();

}  // namespace edge
