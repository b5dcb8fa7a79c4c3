# bash completion for edge(1).                                    -*- shell-script -*-
# Hand-written (CLI11 has no completion generator); tests/docs/check_docs.sh fails when a flag
# of `edge ... --help` is missing here. Works with or without the bash-completion package.

# Flags per command path; "conntrack" alone also takes the list flags (it lists by default).
_edge_filter_flags='-p --proto -s --src -d --dst --sport --dport --state --mark --nat --family --netns --json -h --help'
_edge_list_flags='--sort --reverse --limit --backend --origin'
_edge_stats_flags='--warn --top'
_edge_watch_flags='--event --count --timeout --buffer'
_edge_trace_flags='-4 -6 --timeout --proxy --cacert --cert --key --netns --body --max-body -L --follow --json --hops --mtu --capture -h --help'
_edge_rproxy_flags='--listen --to --mode --lb --threads --connect-timeout --header-timeout --backend-timeout --idle-timeout --keepalive-timeout --keepalive --max-conns --drain --trust-proxy --access-log --log-format --metrics -H --header --response-header --health --health-interval --tls-cert --tls-key --tls-auto --upstream-tls --upstream-ca --upstream-insecure -h --help'
_edge_proxy_flags='--listen --no-socks --allow-src --auth --auth-file --open --allow-domain --allow-dst --deny-domain --deny-dst --connect-ports --http-ports --parent --no-parent-for --threads --connect-timeout --header-timeout --response-timeout --idle-timeout --keepalive-timeout --keepalive --max-conns --drain --access-log --log-format --metrics -h --help'
_edge_nat_flags='--engine --dry-run --persist --json --interval --netns --udp-timeout --max-flows --connect-timeout -h --help'
_edge_snat_flags='--out --src --to-source -4 -6'
_edge_dnat_flags='-p --proto --port --to --in --dst --hairpin --listen --to-source -4 -6'
# Flags that take a value (the next word, or after '=').
_edge_value_flags=' -p --proto -s --src -d --dst --sport --dport --state --mark --nat --family --netns --sort --limit --backend --origin --warn --top --event --count --timeout --buffer --proxy --cacert --cert --key --max-body --capture --listen --to --mode --lb --threads --connect-timeout --header-timeout --backend-timeout --idle-timeout --keepalive-timeout --keepalive --max-conns --drain --trust-proxy --access-log --log-format --metrics -H --header --response-header --health --health-interval --tls-cert --tls-key --upstream-ca --allow-src --auth --auth-file --allow-domain --allow-dst --deny-domain --deny-dst --connect-ports --http-ports --response-timeout --parent --no-parent-for --engine --interval --udp-timeout --max-flows --out --to-source --port --in '

# Puts $1 in front of every candidate (for "--flag=value" typed as one word).
_edge_prefix() {
    [[ -n $1 ]] || return 0
    local i
    for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=$1${COMPREPLY[i]}; done
}

_edge() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev="" pre=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # "--proto=tc" arrives as "--proto" "=" "tc" when '=' is a word break.
    if [[ $cur == "=" ]]; then
        cur=""
    elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == --*=* ]]; then
        # '=' is not a word break here: the whole word is replaced, so keep "--flag=" in front.
        prev=${cur%%=*}
        pre=$prev=
        cur=${cur#*=}
    fi

    # Which command are we in? Skip flags and the values of flags that take one.
    local cmd="" sub="" word i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == -* ]]; then
            if [[ $word != *=* && $_edge_value_flags == *" $word "* ]]; then
                # Skip the value: "--flag VALUE" or "--flag = VALUE".
                if [[ ${COMP_WORDS[i + 1]-} == "=" ]]; then ((i += 2)); else ((i += 1)); fi
            fi
            continue
        fi
        [[ $word == "=" ]] && { ((i += 1)); continue; }
        if [[ -z $cmd ]]; then
            cmd=$word
        elif [[ $cmd == conntrack && -z $sub ]]; then
            sub=$word
        elif [[ $cmd == nat ]]; then
            sub=$word  # the rule being typed: the last rule word wins
        fi
    done

    # Values of flags with a fixed vocabulary.
    case $prev in
        -p | --proto)
            if [[ $cmd == nat ]]; then
                COMPREPLY=($(compgen -W 'tcp udp' -- "$cur"))
                _edge_prefix "$pre"; return
            fi
            COMPREPLY=($(compgen -W 'tcp udp icmp icmpv6 sctp dccp udplite gre' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --state)
            COMPREPLY=($(compgen -W 'NONE SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE SYN_SENT2 LISTEN' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --nat)
            COMPREPLY=($(compgen -W 'snat dnat any' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --family)
            COMPREPLY=($(compgen -W 'ipv4 ipv6' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --sort)
            COMPREPLY=($(compgen -W 'proto state src dst sport dport timeout mark packets bytes' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --backend)
            COMPREPLY=($(compgen -W 'auto netlink proc' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --origin)
            COMPREPLY=($(compgen -W 'kernel edge all' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --event)
            # A comma-separated list: complete the word after the last comma.
            local done_part="" last=$cur
            if [[ $cur == *,* ]]; then
                done_part=${cur%,*},
                last=${cur##*,}
            fi
            COMPREPLY=($(compgen -P "$done_part" -W 'new update destroy all' -- "$last"))
            _edge_prefix "$pre"; return ;;
        --proxy)
            # A URL (http://HOST:PORT) is typed; 'none' forces a direct connection.
            COMPREPLY=($(compgen -W 'none' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --engine)
            COMPREPLY=($(compgen -W 'auto kernel user' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --out | --in)
            COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --mode)
            COMPREPLY=($(compgen -W 'http tcp' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --lb)
            COMPREPLY=($(compgen -W 'round-robin least-conn random hash-src' -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --log-format)
            if [[ $cmd == proxy ]]; then
                COMPREPLY=($(compgen -W 'squid json' -- "$cur"))
            else
                COMPREPLY=($(compgen -W 'combined json' -- "$cur"))
            fi
            _edge_prefix "$pre"; return ;;
        --cacert | --cert | --key | --capture | --access-log | --tls-cert | --tls-key | --upstream-ca | --auth-file)
            # --access-log also takes '-' (standard output), typed by hand.
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
            _edge_prefix "$pre"; return ;;
        --netns)
            if [[ $cur == */* ]]; then
                COMPREPLY=($(compgen -f -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(ip netns list 2>/dev/null | awk '{print $1}')" -- "$cur"))
            fi
            _edge_prefix "$pre"; return ;;
        -s | --src | -d | --dst | --sport | --dport | --mark | --limit | --warn | --top | --count | --timeout | --buffer | \
            --listen | --to | --trust-proxy | --threads | --keepalive | --max-conns | --metrics | \
            --connect-timeout | --header-timeout | --backend-timeout | --idle-timeout | --keepalive-timeout | --drain | \
            --allow-src | --auth | --allow-domain | --allow-dst | --deny-domain | --deny-dst | --connect-ports | --http-ports | \
            --response-timeout | --interval | --udp-timeout | --max-flows | --to-source | --port)
            # Free-form values (addresses, HOST:PORT, CIDRs, names, ports, numbers, durations, USER:PASS): nothing to offer.
            COMPREPLY=()
            _edge_prefix "$pre"; return ;;
    esac

    local words=""
    case $cmd in
        "")
            words='conntrack nat proxy rproxy trace help -h --help --version --verbose' ;;
        help)
            # edge help COMMAND [SUBCOMMAND]: prints that command's --help.
            case $sub in
                "") words='conntrack nat proxy rproxy trace' ;;
                conntrack) words='list stats watch' ;;
                nat) words='snat dnat status flush' ;;
            esac ;;
        conntrack)
            case $sub in
                "") words="list stats watch $_edge_filter_flags $_edge_list_flags" ;;
                list) words="$_edge_filter_flags $_edge_list_flags" ;;
                stats) words="$_edge_filter_flags $_edge_stats_flags" ;;
                watch) words="$_edge_filter_flags $_edge_watch_flags" ;;
            esac ;;
        trace)
            # The TARGET (URL, tls://HOST:PORT, HOST:PORT) is typed: only flags to offer.
            words=$_edge_trace_flags ;;
        rproxy)
            words=$_edge_rproxy_flags ;;
        proxy)
            words=$_edge_proxy_flags ;;
        nat)
            case $sub in
                "") words="snat dnat status flush $_edge_nat_flags" ;;
                snat) words="snat dnat $_edge_snat_flags $_edge_nat_flags" ;;
                dnat) words="snat dnat $_edge_dnat_flags $_edge_nat_flags" ;;
                status) words='--json -h --help' ;;
                flush) words='-h --help' ;;
            esac ;;
    esac
    # Subcommand names only where a word (not a flag) is being typed.
    if [[ $cur == -* ]]; then
        local w flags=""
        for w in $words; do [[ $w == -* ]] && flags+=" $w"; done
        words=$flags
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _edge edge
