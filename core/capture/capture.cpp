// libpcap capture to a savefile on a thread: immediate mode with a short read timeout so the
// loop notices stop_ quickly.
#include "core/capture/capture.h"

#include "core/capture/pcap_api.h"

namespace edge {

struct Capture::Handles {
  pcap_t* pcap = nullptr;
  pcap_dumper_t* dumper = nullptr;
  ~Handles() {
    if (dumper) pcap_api()->dump_close(dumper);
    if (pcap) pcap_api()->close(pcap);
  }
};

Capture::Capture(const std::string& interface, const std::string& filter, const std::string& path) : h_(std::make_unique<Handles>()) {
  char err[PCAP_ERRBUF_SIZE] = "";
  if (!pcap_api()) {
    error_ = "libpcap is not installed";
    return;
  }
  h_->pcap = pcap_api()->create(interface.c_str(), err);
  if (!h_->pcap) {
    error_ = err;
    return;
  }
  pcap_api()->set_snaplen(h_->pcap, 262144);
  pcap_api()->set_immediate_mode(h_->pcap, 1);
  pcap_api()->set_timeout(h_->pcap, 50);
  if (pcap_api()->activate(h_->pcap) < 0) {
    error_ = pcap_api()->geterr(h_->pcap);
    return;
  }
  bpf_program prog;
  if (pcap_api()->compile(h_->pcap, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_api()->setfilter(h_->pcap, &prog) < 0) {
    error_ = pcap_api()->geterr(h_->pcap);
    return;
  }
  pcap_api()->freecode(&prog);
  h_->dumper = pcap_api()->dump_open(h_->pcap, path.c_str());
  if (!h_->dumper) {
    error_ = pcap_api()->geterr(h_->pcap);
    return;
  }
  thread_ = std::thread([this] {
    while (!stop_) {
      int n = pcap_api()->dispatch(h_->pcap, -1,
                            [](u_char* user, const pcap_pkthdr* hdr, const u_char* bytes) {
                              auto* self = reinterpret_cast<Capture*>(user);
                              pcap_api()->dump(reinterpret_cast<u_char*>(self->h_->dumper), hdr, bytes);
                              ++self->packets_;
                            },
                            reinterpret_cast<u_char*>(this));
      if (n < 0) break;
    }
  });
}

long Capture::finish() {
  if (thread_.joinable()) {
    stop_ = true;
    pcap_api()->breakloop(h_->pcap);  // wakes a blocked read (libpcap >= 1.10 on Linux)
    thread_.join();
    // Packets the kernel delivered after the last read: one final non-blocking drain.
    char err[PCAP_ERRBUF_SIZE];
    pcap_api()->setnonblock(h_->pcap, 1, err);
    pcap_api()->dispatch(h_->pcap, -1,
                  [](u_char* user, const pcap_pkthdr* hdr, const u_char* bytes) {
                    auto* self = reinterpret_cast<Capture*>(user);
                    pcap_api()->dump(reinterpret_cast<u_char*>(self->h_->dumper), hdr, bytes);
                    ++self->packets_;
                  },
                  reinterpret_cast<u_char*>(this));
    pcap_api()->dump_flush(h_->dumper);
  }
  return packets_;
}

Capture::~Capture() { finish(); }

}  // namespace edge
