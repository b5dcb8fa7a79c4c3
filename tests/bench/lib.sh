# Measuring helpers shared by the benchmarks (sourced after the integration harness, bash).
#   rss PID              resident memory of PID, KiB
#   cpu_s PID            CPU seconds (user + system) PID has used so far
#   cpu_tree_s PID       the same, with its children that have exited and been reaped
#   wrk_result           reads wrk --latency output: prints "requests/s p99_ms non2xx"
#   iperf_result         reads iperf3 -J output: prints "Gbit/s GB" received

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
cpu_tree_s() { awk '{print ($14 + $15 + $16 + $17) / 100}' "/proc/$1/stat"; }
wrk_result() {
  python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(rps, p99, int(bad.group(1)) if bad else 0)'
}
iperf_result() {
  python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum_received"]; print(e["bits_per_second"] / 1e9, e["bytes"] / 1e9)'
}
