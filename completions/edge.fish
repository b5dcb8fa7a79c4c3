# fish completion for edge(1). Hand-written (CLI11 has no completion generator);
# tests/docs/check_docs.sh fails when a flag of `edge ... --help` is missing here.

set -l edge_commands conntrack nat proxy rproxy trace help
set -l edge_ct_subcommands list stats watch

# The word after the last comma of a comma-separated --event list, completed in place.
function __edge_events
    set -l token (commandline -ct | string replace -r -- '^--event=' '')
    set -l done_part ''
    if string match -q -- '*,*' "$token"
        set done_part (string replace -r -- '[^,]*$' '' "$token")
    end
    for event in new update destroy all
        echo $done_part$event
    end
end

function __edge_netns
    ip netns list 2>/dev/null | string replace -r ' .*' ''
end

# No file names anywhere except --netns paths, --cacert, --capture, --access-log, --tls-cert,
# --tls-key, --upstream-ca and --auth-file.
complete -c edge -f

# edge
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -s h -l help -d 'Print help and exit'
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -l version -d 'Print version and commit, and exit'
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -l verbose -d 'With --version: also the library versions'
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -a conntrack -d "The kernel's connection-tracking table"
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -a nat -d 'SNAT/masquerade/DNAT box, or a rootless port-forwarder'
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -a proxy -d 'Forward proxy: HTTP, CONNECT and SOCKS5, with egress rules'
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -a rproxy -d 'Reverse proxy: HTTP/1.1 or TCP to a pool of backends'
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -a trace -d 'Which layer broke: one probe through every layer'
complete -c edge -n "not __fish_seen_subcommand_from $edge_commands" -a help -d "A command's flags and examples"
# edge help COMMAND [SUBCOMMAND]
complete -c edge -n "__fish_seen_subcommand_from help; and not __fish_seen_subcommand_from conntrack nat proxy rproxy trace" -a 'conntrack nat proxy rproxy trace'
complete -c edge -n "__fish_seen_subcommand_from help; and __fish_seen_subcommand_from conntrack; and not __fish_seen_subcommand_from $edge_ct_subcommands" -a 'list stats watch'

# edge nat snat ... dnat ... (repeat the rule words for several rules), status, flush
set -l nt "__fish_seen_subcommand_from nat"
complete -c edge -n $nt -s h -l help -d 'Print help and exit'
complete -c edge -n "$nt; and not __fish_seen_subcommand_from status flush" -a 'snat dnat' -d 'Start a rule'
complete -c edge -n "$nt; and not __fish_seen_subcommand_from snat dnat status flush" -a 'status flush'
complete -c edge -n $nt -l engine -x -a 'auto kernel user' -d 'kernel (nftables), user (userspace forwarder) or auto'
complete -c edge -n $nt -l dry-run -d 'Print the nft ruleset and iptables equivalent, change nothing'
complete -c edge -n $nt -l persist -d 'Load a table that outlives edge, then exit'
complete -c edge -n $nt -l json -d 'Status as JSON lines'
complete -c edge -n $nt -l interval -x -d 'Status refresh (default 1s)'
complete -c edge -n $nt -l netns -x -a '(ip netns list 2>/dev/null | string split -f1 " ")' -d 'Run inside this network namespace'
complete -c edge -n $nt -l udp-timeout -x -d 'User engine: idle UDP session timeout (default 60s)'
complete -c edge -n $nt -l max-flows -x -d 'User engine: flows at once (default 4096)'
complete -c edge -n $nt -l connect-timeout -x -d 'User engine: connecting to --to (default 10s)'
complete -c edge -n "$nt; and __fish_seen_subcommand_from snat" -l out -x -a '(ls /sys/class/net)' -d 'Interface traffic leaves by'
complete -c edge -n "$nt; and __fish_seen_subcommand_from snat" -l src -x -d 'Only traffic from this CIDR'
complete -c edge -n "$nt; and __fish_seen_subcommand_from snat dnat" -l to-source -x -d 'snat: ADDR[-ADDR][:PORT-PORT]; dnat: source address'
complete -c edge -n "$nt; and __fish_seen_subcommand_from dnat" -s p -l proto -x -a 'tcp udp' -d 'Protocol'
complete -c edge -n "$nt; and __fish_seen_subcommand_from dnat" -l port -x -d 'Port or range to forward'
complete -c edge -n "$nt; and __fish_seen_subcommand_from dnat" -l to -x -d 'ADDR[:PORT[-PORT]] or HOST:PORT'
complete -c edge -n "$nt; and __fish_seen_subcommand_from dnat" -l in -x -a '(ls /sys/class/net)' -d 'Only traffic arriving here'
complete -c edge -n "$nt; and __fish_seen_subcommand_from dnat" -l dst -x -d 'Only traffic to this address'
complete -c edge -n "$nt; and __fish_seen_subcommand_from dnat" -l hairpin -d 'Also SNAT clients on the target subnet'
complete -c edge -n "$nt; and __fish_seen_subcommand_from dnat" -l listen -x -d '[ADDR:]PORT[-PORT] to match or listen on'
complete -c edge -n "$nt; and __fish_seen_subcommand_from snat dnat" -s 4 -d 'IPv4 only'
complete -c edge -n "$nt; and __fish_seen_subcommand_from snat dnat" -s 6 -d 'IPv6 only'
complete -c edge -n "$nt; and __fish_seen_subcommand_from status" -l json -d 'One JSON object'

# edge proxy [--listen [ADDR:]PORT] [--allow-* ...] (addresses, names, ports and durations typed by hand)
set -l px "__fish_seen_subcommand_from proxy"
complete -c edge -n $px -s h -l help -d 'Print help and exit'
complete -c edge -n $px -l listen -x -d '[ADDR:]PORT to accept clients on (default 127.0.0.1:3128)'
complete -c edge -n $px -l no-socks -d 'Speak HTTP only (no SOCKS5)'
complete -c edge -n $px -l allow-src -x -d 'Clients in this CIDR may use it besides loopback (repeatable)'
complete -c edge -n $px -l auth -x -d 'Require this USER:PASS of every client'
complete -c edge -n $px -l auth-file -r -F -d 'Require a user and password from this htpasswd file'
complete -c edge -n $px -l open -d 'Allow a non-loopback --listen without --allow-src or --auth'
complete -c edge -n $px -l allow-domain -x -d 'Allowlist this name (leading dot: and subdomains)'
complete -c edge -n $px -l allow-dst -x -d 'Allowlist this CIDR (lifts a default denial it covers)'
complete -c edge -n $px -l deny-domain -x -d 'Never this name (leading dot: and subdomains)'
complete -c edge -n $px -l deny-dst -x -d 'Never this CIDR'
complete -c edge -n $px -l connect-ports -x -d 'Ports tunnels may reach (default 443)'
complete -c edge -n $px -l http-ports -x -d 'Ports plain HTTP may reach (default 80,443,1025-65535)'
complete -c edge -n $px -l metrics -x -d 'Serve Prometheus metrics at http://[ADDR:]PORT/metrics'
complete -c edge -n $px -l parent -x -d 'Chain to this proxy (http:// or socks5h:// URL)'
complete -c edge -n $px -l no-parent-for -x -d 'Go direct to these destinations (no_proxy rules)'
complete -c edge -n $px -l threads -x -d 'Worker threads (default: one per core)'
complete -c edge -n $px -l connect-timeout -x -d 'Connecting to a destination (default 10s)'
complete -c edge -n $px -l header-timeout -x -d "A client's request head or SOCKS handshake (default 10s)"
complete -c edge -n $px -l response-timeout -x -d "The origin's response head (default 60s)"
complete -c edge -n $px -l idle-timeout -x -d 'Silence while a body streams or in a tunnel (default 5m)'
complete -c edge -n $px -l keepalive-timeout -x -d 'Idle client connection between requests (default 60s)'
complete -c edge -n $px -l keepalive -x -d 'Idle origin connections per destination and thread (default 256)'
complete -c edge -n $px -l max-conns -x -d 'Client connections at most (default 10000)'
complete -c edge -n $px -l drain -x -d 'On SIGTERM/SIGINT, time for in-flight requests (default 10s)'
complete -c edge -n $px -l access-log -r -F -d 'One line per request or tunnel to FILE, or - for stdout'
complete -c edge -n $px -l log-format -x -a 'squid json' -d 'Access log lines: squid (default) or json'

# edge rproxy --listen [ADDR:]PORT --to HOST:PORT [--to ...] (addresses and durations typed by hand)
set -l rp "__fish_seen_subcommand_from rproxy"
complete -c edge -n $rp -s h -l help -d 'Print help and exit'
complete -c edge -n $rp -l listen -x -d '[ADDR:]PORT to accept clients on'
complete -c edge -n $rp -l to -x -d 'A backend HOST:PORT (repeat for a pool)'
complete -c edge -n $rp -l mode -x -a 'http tcp' -d 'http (default) or tcp (bytes relayed as they are)'
complete -c edge -n $rp -l lb -x -a 'round-robin least-conn random hash-src' -d 'Balancing policy (default round-robin)'
complete -c edge -n $rp -l threads -x -d 'Worker threads (default: one per core)'
complete -c edge -n $rp -l connect-timeout -x -d 'Connecting to a backend, e.g. 3s (default 3s)'
complete -c edge -n $rp -l header-timeout -x -d "The client's request head (default 10s)"
complete -c edge -n $rp -l backend-timeout -x -d "The backend's response head (default 30s)"
complete -c edge -n $rp -l idle-timeout -x -d 'Silence while a body or tunnel streams (default 60s)'
complete -c edge -n $rp -l keepalive-timeout -x -d 'Idle client connection between requests (default 60s)'
complete -c edge -n $rp -l keepalive -x -d 'Idle connections kept per backend and thread (default 1024)'
complete -c edge -n $rp -l max-conns -x -d 'Client connections at most (default 10000)'
complete -c edge -n $rp -l drain -x -d 'On SIGTERM/SIGINT, time for in-flight requests (default 10s)'
complete -c edge -n $rp -l trust-proxy -x -d 'Keep X-Forwarded-* from peers in this CIDR (repeatable)'
complete -c edge -n $rp -l access-log -r -F -d 'One line per request to FILE, or - for stdout'
complete -c edge -n $rp -l log-format -x -a 'combined json' -d 'Access log lines: combined (default) or json'
complete -c edge -n $rp -l metrics -x -d 'Serve Prometheus metrics at [ADDR:]PORT/metrics (bare PORT: 127.0.0.1)'
complete -c edge -n $rp -s H -l header -x -d "Set a header on requests to backends ('Name: value')"
complete -c edge -n $rp -l health -x -d 'Check each backend with GET PATH (tcp mode: a connect)'
complete -c edge -n $rp -l health-interval -x -d 'How often to check and re-resolve names (default 5s)'
complete -c edge -n $rp -l response-header -x -d "Set a header on responses to clients ('Name: value')"
complete -c edge -n $rp -l tls-cert -r -F -d 'Serve clients over TLS with this PEM certificate chain'
complete -c edge -n $rp -l tls-key -r -F -d 'The PEM private key for --tls-cert'
complete -c edge -n $rp -l tls-auto -d 'Serve clients over TLS with a fresh self-signed certificate'
complete -c edge -n $rp -l upstream-tls -d 'Speak TLS to the backends (certificates verified)'
complete -c edge -n $rp -l upstream-ca -r -F -d 'Trust these PEM CA certificates for backends'
complete -c edge -n $rp -l upstream-insecure -d 'Do not verify backend certificates (testing only)'

# edge trace [OPTIONS] TARGET (a URL, tls://HOST:PORT or HOST:PORT, typed by hand)
set -l tr "__fish_seen_subcommand_from trace"
complete -c edge -n $tr -s h -l help -d 'Print help and exit'
complete -c edge -n $tr -s 4 -d 'Follow the IPv4 address'
complete -c edge -n $tr -s 6 -d 'Follow the IPv6 address'
complete -c edge -n $tr -l timeout -x -d 'Time allowed per layer, 10ms-10m, e.g. 1.5s (default 3s)'
complete -c edge -n $tr -l proxy -x -a none -d 'Proxy URL (http://HOST:PORT), or none'
complete -c edge -n $tr -l cacert -r -F -d 'Trust this CA bundle instead of the system store'
complete -c edge -n $tr -l cert -r -F -d 'Client certificate (PEM) to send when the server asks'
complete -c edge -n $tr -l key -r -F -d 'Private key (PEM) of --cert'
complete -c edge -n $tr -l netns -r -F -a '(__edge_netns)' -d 'Network namespace (name or path)'
complete -c edge -n $tr -l json -d 'Print JSON: layers, evidence, verdict'
complete -c edge -n $tr -l hops -d 'Also find the hop where packets die'
complete -c edge -n $tr -l body -d 'Also read the whole body: size, time, truncation'
complete -c edge -n $tr -s L -l follow -d 'Follow redirects, each traced as a hop (--follow=N: up to N)'
complete -c edge -n $tr -l max-body -x -d 'Read at most SIZE of the body, e.g. 64M (implies --body)'
complete -c edge -n $tr -l mtu -d 'Also detect an MTU blackhole (small-MSS retry)'
complete -c edge -n $tr -l capture -r -F -d 'Write the probe packets to FILE as pcap'

# edge conntrack [list|stats|watch]
set -l ct "__fish_seen_subcommand_from conntrack"
set -l ct_top "__fish_seen_subcommand_from conntrack; and not __fish_seen_subcommand_from $edge_ct_subcommands"
set -l ct_list "__fish_seen_subcommand_from conntrack; and not __fish_seen_subcommand_from stats watch"
set -l ct_stats "__fish_seen_subcommand_from conntrack; and __fish_seen_subcommand_from stats"
set -l ct_watch "__fish_seen_subcommand_from conntrack; and __fish_seen_subcommand_from watch"

complete -c edge -n $ct_top -a list -d 'List flows as a table or JSON array (the default)'
complete -c edge -n $ct_top -a stats -d 'How full the table is and why'
complete -c edge -n $ct_top -a watch -d 'Print conntrack events as they happen'

# Filters: conntrack and all its subcommands.
complete -c edge -n $ct -s h -l help -d 'Print help and exit'
complete -c edge -n $ct -s p -l proto -x -a 'tcp udp icmp icmpv6 sctp dccp udplite gre' -d 'Protocol (or a number)'
complete -c edge -n $ct -s s -l src -x -d 'Original source address or CIDR'
complete -c edge -n $ct -s d -l dst -x -d 'Original destination address or CIDR'
complete -c edge -n $ct -l sport -x -d 'Original source port or range'
complete -c edge -n $ct -l dport -x -d 'Original destination port or range'
complete -c edge -n $ct -l state -x -a 'NONE SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE SYN_SENT2 LISTEN' -d 'TCP state'
complete -c edge -n $ct -l mark -x -d 'Conntrack mark VALUE[/MASK]'
complete -c edge -n $ct -l nat -x -a 'snat dnat any' -d 'Only translated flows'
complete -c edge -n $ct -l family -x -a 'ipv4 ipv6' -d 'Address family'
complete -c edge -n $ct -l netns -r -F -a '(__edge_netns)' -d 'Network namespace (name or path)'
complete -c edge -n $ct -l json -d 'Print JSON instead of a table'

# conntrack and conntrack list
complete -c edge -n $ct_list -l sort -x -a 'proto state src dst sport dport timeout mark packets bytes' -d 'Sort field (traffic: biggest first)'
complete -c edge -n $ct_list -l reverse -d 'Reverse the --sort order'
complete -c edge -n $ct_list -l limit -x -d 'Print at most N flows'
complete -c edge -n $ct_list -l backend -x -a 'auto netlink proc' -d 'Where to read the table'
complete -c edge -n $ct_list -l origin -x -a 'kernel edge all' -d "Whose flows: the kernel's, edge's own, or all"

# conntrack stats
complete -c edge -n $ct_stats -l warn -x -d 'Exit 1 when fuller than PCT percent'
complete -c edge -n $ct_stats -l top -x -d 'How many top sources to show (default 5)'

# conntrack watch
complete -c edge -n $ct_watch -l event -x -a '(__edge_events)' -d 'Events: new, update, destroy, all (comma-separated)'
complete -c edge -n $ct_watch -l count -x -d 'Stop after N matching events (0: no limit)'
complete -c edge -n $ct_watch -l timeout -x -d 'Stop after this long, e.g. 30s, 1.5m (0: no limit)'
complete -c edge -n $ct_watch -l buffer -x -d 'Kernel socket buffer, e.g. 8M'
