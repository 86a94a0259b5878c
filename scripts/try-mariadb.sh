#!/usr/bin/env bash
# A private MariaDB to try startpoint against (the README's walkthroughs): a temporary data
# directory, 127.0.0.1 on a free port (never 3306), binary logging on, a replication account
# with a password, an option file for it, and some history with two known times in it.
#
#   eval "$(scripts/try-mariadb.sh start)"   # prints the variables below as shell exports
#   eval "$(scripts/try-mariadb.sh start --empty)"   # the same, without the account and history
#   scripts/try-mariadb.sh stop "$TRY_DIR"   # stops it (by its own PID) and removes the directory
#
# TRY_DIR     the server's directory (data/ holds its binlogs; my.cnf the client settings)
# TRY_PORT    its port on 127.0.0.1
# TRY_T1      a time after the first batch of history (UTC, RFC 3339); TRY_T2 after the second,
#             before the third
# TRY_SOCKET  its Unix socket, for the mariadb client
set -euo pipefail

find_program() {
    for dir in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
        [ -x "$dir/$1" ] && { echo "$dir/$1"; return; }
    done
    command -v "$1" || { echo "try-mariadb: $1 not found (apt-get install mariadb-server mariadb-client)" >&2; exit 1; }
}

start() {
    local mariadbd install client dir port user=() server_id=1
    # An empty server is usually made a replica of the other: it needs its own server_id.
    [ "${1:-}" = "--empty" ] && server_id=2
    mariadbd=$(find_program mariadbd)
    install=$(find_program mariadb-install-db)
    client=$(find_program mariadb)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/startpoint-try-XXXXXX")
    touch "$dir/.startpoint-try"
    mkdir "$dir/files"
    # A start that fails half-way leaves no server running and no directory behind.
    trap 'stop_server "$dir"; rm -rf "$dir"' EXIT
    [ "$(id -u)" -eq 0 ] && user=(--user=root)
    "$install" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
        --skip-test-db "${user[@]}" >"$dir/install.log" 2>&1 \
        || { echo "try-mariadb: mariadb-install-db failed; see $dir/install.log" >&2; exit 1; }
    for _ in 1 2 3 4 5; do
        port=$(( 20000 + RANDOM % 40000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
        "$mariadbd" --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
            --socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" \
            --log-error="$dir/mariadbd.err" --log-bin=mysql-bin --binlog-format=ROW \
            --server-id="$server_id" --innodb-buffer-pool-size=32M --performance-schema=OFF \
            --secure-file-priv="$dir/files" "${user[@]}" </dev/null >/dev/null 2>&1 &
        echo $! >"$dir/launched.pid"
        for _ in $(seq 1 100); do
            grep -q "ready for connections" "$dir/mariadbd.err" 2>/dev/null && break
            grep -q "Bind on TCP/IP port" "$dir/mariadbd.err" 2>/dev/null && break
            sleep 0.1
        done
        grep -q "ready for connections" "$dir/mariadbd.err" 2>/dev/null && break
        stop_server "$dir"; rm -f "$dir/mariadbd.err" "$dir/launched.pid"; port=""
    done
    [ -n "${port:-}" ] || { echo "try-mariadb: mariadbd did not start; see $dir" >&2; exit 1; }
    local sql=("$client" --no-defaults --socket="$dir/mariadbd.sock" -uroot)
    # root without a password through the socket only (the directory is the caller's alone);
    # no anonymous accounts, no root over TCP, where any local user could reach it.
    local drop
    drop=$("${sql[@]}" -N -e "SELECT GROUP_CONCAT(CONCAT(QUOTE(User), '@', QUOTE(Host)))
        FROM mysql.user WHERE User = '' OR (User = 'root' AND Host <> 'localhost')")
    [ "$drop" = "NULL" ] || "${sql[@]}" -e "DROP USER $drop"
    trap - EXIT
    if [ "${1:-}" = "--empty" ]; then
        printf 'export TRY_DIR=%q TRY_PORT=%q TRY_SOCKET=%q\n' "$dir" "$port" "$dir/mariadbd.sock"
        return
    fi
    trap 'stop_server "$dir"; rm -rf "$dir"' EXIT
    "${sql[@]}" -e "
        CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'Try-secret-1';
        GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD, SELECT ON *.* TO 'repl'@'127.0.0.1';
        CREATE DATABASE shop;
        CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40)) ENGINE=InnoDB;
        INSERT INTO shop.orders VALUES (1, 'before T1'), (2, 'before T1');"
    # Whole seconds apart: a binlog dates events to the second.
    sleep 1.1
    local t1 t2
    t1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    sleep 1.1
    "${sql[@]}" -e "INSERT INTO shop.orders VALUES (3, 'after T1'); FLUSH BINARY LOGS;"
    sleep 1.1
    t2=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    sleep 1.1
    "${sql[@]}" -e "UPDATE shop.orders SET note = 'changed after T2' WHERE id = 1;"
    umask 077
    cat >"$dir/my.cnf" <<CNF
[client]
host = 127.0.0.1
port = $port
user = repl
password = Try-secret-1
CNF
    trap - EXIT
    printf 'export TRY_DIR=%q TRY_PORT=%q TRY_T1=%q TRY_T2=%q TRY_SOCKET=%q\n' \
        "$dir" "$port" "$t1" "$t2" "$dir/mariadbd.sock"
}

# Stops the server of directory $1 by its own PID (the one it was launched with, which is also
# the one in its pid file once it runs).
stop_server() {
    local pid
    for file in "$1/launched.pid" "$1/mariadbd.pid"; do
        pid=$(cat "$file" 2>/dev/null) || continue
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
}

case "${1:-}" in
    start) start "${2:-}" ;;
    stop)
        dir=${2:?usage: try-mariadb.sh stop DIR}
        # Only a directory this script made is removed.
        [ -f "$dir/.startpoint-try" ] || { echo "try-mariadb: $dir is not a try-mariadb directory" >&2; exit 1; }
        stop_server "$dir"
        rm -rf "$dir"
        ;;
    *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
