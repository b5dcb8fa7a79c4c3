#!/usr/bin/env python3
"""The test oracle for `edge conntrack`: conntrack-tools' own text output turned into edge's
JSON shape, and a field-by-field comparison.

  ct_oracle.py flows SNAT_IDS DNAT_IDS < `conntrack -L -o extended,id`   -> JSON array
  ct_oracle.py compare EDGE_JSON ORACLE_JSON                             -> exit 1 on any difference
  ct_oracle.py ids < JSON array                                          -> sorted ids, one per line
"""
import json
import sys


def parse_line(line, snat_ids, dnat_ids):
    tok = line.split()
    flow = {"origin": "kernel", "family": tok[0], "proto": tok[2], "timeout": int(tok[4]),
            "state": None, "mark": 0, "zone": 0, "assured": False, "unreplied": False}
    tuples, counters = [{}, {}], [{}, {}]
    direction = -1
    after_mark = False  # ICMP tuples have id= too; the entry's own id= comes after mark=
    for t in tok[5:]:
        if t == "[ASSURED]":
            flow["assured"] = True
        elif t == "[UNREPLIED]":
            flow["unreplied"] = True
        elif t.startswith("["):
            continue
        elif "=" not in t:
            flow["state"] = t if flow["proto"] == "tcp" else None
        else:
            k, v = t.split("=", 1)
            if k == "src":
                direction += 1
            if k in ("src", "dst"):
                tuples[direction][k] = v
            elif k in ("sport", "dport", "type", "code") or (k == "id" and not after_mark):
                tuples[direction][k] = int(v)
            elif k in ("packets", "bytes"):
                counters[direction][k] = int(v)
            elif k == "mark":
                flow["mark"] = int(v)
                after_mark = True
            elif k == "zone":
                flow["zone"] = int(v)
            elif k == "id":
                flow["id"] = int(v)
    flow["orig"], flow["reply"] = tuples
    flow["nat"] = [n for n, ids in (("snat", snat_ids), ("dnat", dnat_ids)) if flow.get("id") in ids]
    flow["counters"] = {"orig": counters[0], "reply": counters[1]} if counters[0] else None
    return flow


def read_ids(path):
    with open(path) as f:
        return {int(x) for x in f.read().split()}


def ids_from_conntrack_text(text):
    out = set()
    for line in text.splitlines():
        ids = [t for t in line.split() if t.startswith("id=")]
        if ids:
            out.add(int(ids[-1][3:]))  # the last id= on a line is the entry's (ICMP tuple ids come first)
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "flows":
        snat, dnat = read_ids(sys.argv[2]), read_ids(sys.argv[3])
        flows = [parse_line(l, snat, dnat) for l in sys.stdin if l.strip() and not l.startswith("conntrack v")]
        json.dump(flows, sys.stdout)
    elif cmd == "idlist":  # conntrack -o id text -> ids
        for i in sorted(ids_from_conntrack_text(sys.stdin.read())):
            print(i)
    elif cmd == "ids":
        for i in sorted(f["id"] for f in json.load(sys.stdin)):
            print(i)
    elif cmd == "compare":
        edge = {f["id"]: f for f in json.load(open(sys.argv[2]))}
        oracle = {f["id"]: f for f in json.load(open(sys.argv[3]))}
        problems = []
        for i in sorted(set(edge) | set(oracle)):
            if i not in edge:
                problems.append(f"id {i}: conntrack -L shows it, edge does not: {oracle[i]}")
                continue
            if i not in oracle:
                problems.append(f"id {i}: edge shows it, conntrack -L does not: {edge[i]}")
                continue
            e, o = edge[i], oracle[i]
            for k in sorted(set(e) | set(o)):
                if k == "timeout":
                    if abs(e[k] - o[k]) > 3:
                        problems.append(f"id {i}: timeout edge {e[k]} vs conntrack {o[k]}")
                elif e.get(k) != o.get(k):
                    problems.append(f"id {i}: {k}: edge {e.get(k)!r} vs conntrack {o.get(k)!r}")
        for p in problems:
            print("MISMATCH", p)
        print(f"compared {len(edge)} edge flows with {len(oracle)} conntrack flows: {len(problems)} differences")
        sys.exit(1 if problems or not edge else 0)


main()
