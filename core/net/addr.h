// Addresses as edge reads and prints them: IPv4/IPv6 addresses, CIDR prefixes, port ranges and
// HOST:PORT endpoints. Each type is built only by its parse(), so an invalid one cannot exist.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/parsed.h"

namespace edge {

enum class Family : uint8_t { v4 = 4, v6 = 6 };

class IpAddr {
 public:
  IpAddr() = default;  // 0.0.0.0
  static Parsed<IpAddr> parse(std::string_view text);
  static IpAddr v4(uint32_t host_order);
  static IpAddr from_bytes(Family f, const void* network_order);  // 4 or 16 bytes

  Family family() const { return family_; }
  const uint8_t* bytes() const { return bytes_.data(); }
  size_t size() const { return family_ == Family::v4 ? 4 : 16; }
  std::string str() const;
  // Appends the text form without allocating; hot path of `edge conntrack list`.
  void append_to(std::string& out) const;

  friend bool operator==(const IpAddr&, const IpAddr&) = default;
  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;

 private:
  Family family_ = Family::v4;
  std::array<uint8_t, 16> bytes_{};
};

class Cidr {
 public:
  static Parsed<Cidr> parse(std::string_view text);  // "10.0.0.0/8", "2001:db8::/32", "192.0.2.7"
  bool contains(const IpAddr& a) const;
  const IpAddr& network() const { return net_; }
  int prefix() const { return prefix_; }
  std::string str() const;

 private:
  IpAddr net_;
  int prefix_ = 0;
};

class PortRange {
 public:
  static Parsed<PortRange> parse(std::string_view text);  // "443", "8000-8080", "1024:65535"
  bool contains(uint16_t p) const { return p >= lo_ && p <= hi_; }
  uint16_t lo() const { return lo_; }
  uint16_t hi() const { return hi_; }

 private:
  uint16_t lo_ = 0, hi_ = 0;
};

// Parses one port number 1-65535; the message says what was wrong.
Parsed<uint16_t> parse_port(std::string_view text);

// HOST:PORT as users type it: "10.0.0.1:80", "[2001:db8::1]:443", "backend.local:8080",
// ":8080" or "8080" (host left empty: any address). The host is kept as text; names resolve later.
class Endpoint {
 public:
  static Parsed<Endpoint> parse(std::string_view text);
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  bool host_is_literal() const;
  std::string str() const;

 private:
  std::string host_;
  uint16_t port_ = 0;
};

}  // namespace edge
