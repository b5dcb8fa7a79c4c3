// `edge trace --capture FILE`: the probe's packets on the egress interface, written as pcap
// while the layers run. A background thread drains libpcap; the capture stops and the file is
// closed when the object goes away.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace edge {

class Capture {
 public:
  // Starts capturing `filter` (BPF syntax) on `interface` into `path`. Check ok(); error()
  // says why not (typically: no CAP_NET_RAW).
  Capture(const std::string& interface, const std::string& filter, const std::string& path);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // Stops, flushes, and returns the number of packets written.
  long finish();

 private:
  struct Handles;
  std::unique_ptr<Handles> h_;
  std::string error_;
  std::atomic<bool> stop_{false};
  std::atomic<long> packets_{0};
  std::thread thread_;
};

}  // namespace edge
