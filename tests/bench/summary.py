"""The benchmarks' summaries: medians of alternating rounds, their min-max spread, and edge's
ratio to each peer per round. Each measurement file in the scratch directory holds one line
per round: "value ..." (wrk: req/s p99_ms non2xx; iperf3: Gbit/s GB cpu_after cpu_before)."""
import os
import statistics as st


def rows(d, name):
    return [list(map(float, line.split())) for line in open(os.path.join(d, name))]


def spread(v, fmt=".0f"):
    return f"{min(v):{fmt}}-{max(v):{fmt}}"


def http_table(d, cases, who, title):
    """One line per case from files http.CASE.WHO; who[0] is edge, the others its peers."""
    print(title)
    print(f"{'case':<10} " + " ".join(f"{w + ' req/s':>18}" for w in who) + " " + " ".join(f"{'edge/' + w:>12}" for w in who[1:]) +
          f" {'p99 ms ' + '/'.join(w[0] for w in who):>20}")
    for c in cases:
        rs = [rows(d, f"http.{c}.{w}") for w in who]
        med = lambda r, i: st.median(x[i] for x in r)
        ratios = [[a[0] / b[0] for a, b in zip(rs[0], r)] for r in rs[1:]]
        bad = sum(x[2] for x in rs[0])
        print(f"{c:<10} " + " ".join(f"{med(r, 0):>8.0f} ({spread([x[0] for x in r]):>9})" for r in rs) + " " +
              " ".join(f"{st.median(q):>11.2f}x" for q in ratios) + "  " + "/".join(f"{med(r, 1):.2f}" for r in rs) +
              (f"  edge non-2xx: {bad:.0f}" if bad else ""))
        print(f"{'':<10} per-round " + "; ".join(f"edge/{w} " + " ".join(f"{x:.2f}" for x in q) for w, q in zip(who[1:], ratios)))


def relay_lines(d, prefix, who, label):
    """Throughput and CPU per GB from files PREFIX.WHO (iperf3 rounds); who[0] is edge."""
    rs = [rows(d, f"{prefix}.{w}") for w in who]
    cpu = lambda r: (r[2] - r[3]) / r[1]  # CPU seconds per GB
    print(f"{label} iperf3: " + ", ".join(f"{w} {st.median(x[0] for x in r):.2f} Gbit/s ({spread([x[0] for x in r], '.2f')})" for w, r in zip(who, rs)) +
          "; " + ", ".join(f"edge/{w} {st.median(a[0] / b[0] for a, b in zip(rs[0], r)):.2f}x" for w, r in zip(who[1:], rs[1:])))
    print(f"{label} CPU s/GB: " + ", ".join(f"{w} {st.median(cpu(x) for x in r):.3f}" for w, r in zip(who, rs)) + "; " +
          ", ".join(f"edge/{w} {st.median(cpu(a) / cpu(b) for a, b in zip(rs[0], r)):.2f}x" for w, r in zip(who[1:], rs[1:])))
