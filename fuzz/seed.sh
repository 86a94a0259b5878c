#!/usr/bin/env bash
# Seeds the fuzz corpora from the project's fixtures and testdata/public.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/binlog_bytes corpus/event_bodies corpus/gtid_text corpus/start_time corpus/dm_yaml \
    corpus/dump_deframer
# Dumps as a server frames them, plain and compressed, and a refusal.
cp ../testdata/fuzz-regressions/dump_deframer/* corpus/dump_deframer/
for f in ../testdata/mariadb/binlog/mysql-bin.0* ../testdata/public/*/*; do
    case "$f" in *.md|*.index) continue ;; esac
    size=$(stat -c %s "$f")
    # Large files slow every execution down; their first 64 KiB carry the interesting part.
    head -c 65536 "$f" > "corpus/binlog_bytes/$(basename "$(dirname "$f")")-$(basename "$f")"
    [ "$size" -gt 0 ] || true
done
gunzip -c ../testdata/public/osheroff/mysql-bin.sakila.gz | head -c 65536 > corpus/binlog_bytes/sakila
printf '0\001\000\000\000\000\000\000\000\007\000\000\000\001' > corpus/event_bodies/maria-gtid
for text in '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7' \
            '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-3:tag_a:1-2,896e7882-18fe-11ef-ab88-22222d34d411:4' \
            '0-1-100,1-2-5' ''; do
    printf '%s' "$text" > "corpus/gtid_text/$(printf '%s' "$text" | md5sum | cut -c1-8)"
done
for text in '2021-10-21 00:01:00' '2021-10-21T00:01:00.123456Z' '2030-03-31 02:30:00+08:00' \
            '2030-10-27T02:30:00-0130' 'Europe/Berlin' '+05:45'; do
    printf '%s' "$text" > "corpus/start_time/$(printf '%s' "$text" | md5sum | cut -c1-8)"
done
cat > corpus/dm_yaml/task.yaml <<'YAML'
name: "test"
task-mode: all
shard-mode: ""
meta-schema: "dm_meta"
timezone: "Asia/Shanghai"
case-sensitive: false
target-database:
  host: "127.0.0.1"
  port: 4000
  user: "root"
  password: "secret"
  security:
    ssl-ca: "/path/ca.pem"
mysql-instances:
  - source-id: "mysql-replica-01"
    meta:
      binlog-name: mysql-bin.000003
      binlog-pos: 194
      binlog-gtid: "09bec856-ba95-11ea-850a-58f2b4af5188:1-9"
    block-allow-list: "bw-rule-1"
    mydumper-thread: 4
  - source-id: "mysql-replica-02"
block-allow-list:
  bw-rule-1:
    do-dbs: ["all_mode"]
YAML
cat > corpus/dm_yaml/source.yaml <<'YAML'
source-id: "mysql-replica-01"
enable-gtid: true
enable-relay: false
relay-dir: relay-dir
server-id: 101
flavor: mariadb
from:
  host: "127.0.0.1"
  port: 3307
  user: "root"
  password: "secret"
  security:
    ssl-ca: "/path/ca.pem"
    ssl-cert: "/path/cert.pem"
    ssl-key: "/path/key.pem"
YAML
