#!/usr/bin/env python3
"""The baseline of the central ingest benchmark: a plain program that inserts the same hits into SQLite.

    plain-insert.py HITS.jsonl DATABASE BATCH_SIZE

Reads every hit first (not timed), then inserts them into a `hits` table with central's columns, one
transaction per BATCH_SIZE hits, with central's settings (WAL, synchronous = FULL), and prints the seconds
the inserts took. Nothing else: no TLS, no decompression, no signature, no JSON parsing, no dirty days.
"""
import json
import sqlite3
import sys
import time

COLUMNS = [
    "site_id", "ts", "kind", "aggregate_only", "bot", "visitor_id", "user_id", "new_visit", "pv_id",
    "url", "title", "ref_type", "ref_name", "ref_url",
    "cmp_name", "cmp_source", "cmp_medium", "cmp_keyword", "cmp_content",
    "country", "region", "city", "masked_ip",
    "browser", "browser_version", "os", "os_version", "device", "resolution", "language", "local_time",
    "e_c", "e_a", "e_n", "e_v", "search", "search_cat", "search_count", "link", "goal_id", "revenue",
]
BOOLEANS = {"aggregate_only", "bot", "new_visit"}


def main():
    source, database, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rows = []
    with open(source, encoding="utf-8") as lines:
        for line in lines:
            hit = json.loads(line)
            rows.append(("edge-1", len(rows) // batch_size + 1, "0" * 64)
                        + tuple(int(hit.get(c, False)) if c in BOOLEANS else hit.get(c) for c in COLUMNS))

    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    names = ["edge_id", "sequence", "policy_digest"] + ["is_bot" if c == "bot" else c for c in COLUMNS]
    db.execute("CREATE TABLE hits (id INTEGER PRIMARY KEY, " + ", ".join(names) + ")")
    db.execute("CREATE INDEX hits_by_site_time ON hits (site_id, ts)")
    insert = "INSERT INTO hits (" + ", ".join(names) + ") VALUES (" + ", ".join("?" * len(names)) + ")"

    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        db.execute("BEGIN")
        db.executemany(insert, rows[start:start + batch_size])
        db.execute("COMMIT")
    print(f"{time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    main()
