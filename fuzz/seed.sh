#!/usr/bin/env bash
# Seeds the fuzz corpora from the project's fixtures and ../shared/testdata/public.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/binlog_bytes corpus/event_bodies corpus/gtid_text
for f in ../testdata/mariadb/binlog/mysql-bin.0* ../../shared/testdata/public/*/*; do
    case "$f" in *.md|*.index) continue ;; esac
    size=$(stat -c %s "$f")
    # Large files slow every execution down; their first 64 KiB carry the interesting part.
    head -c 65536 "$f" > "corpus/binlog_bytes/$(basename "$(dirname "$f")")-$(basename "$f")"
    [ "$size" -gt 0 ] || true
done
gunzip -c ../../shared/testdata/public/osheroff/mysql-bin.sakila.gz | head -c 65536 > corpus/binlog_bytes/sakila
printf '0\001\000\000\000\000\000\000\000\007\000\000\000\001' > corpus/event_bodies/maria-gtid
for text in '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7' \
            '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-3:tag_a:1-2,896e7882-18fe-11ef-ab88-22222d34d411:4' \
            '0-1-100,1-2-5' ''; do
    printf '%s' "$text" > "corpus/gtid_text/$(printf '%s' "$text" | md5sum | cut -c1-8)"
done
