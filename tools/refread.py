#!/usr/bin/env python3
"""The reference reader: a selection of CloudWatch Logs events read with boto3, independent of
cwlogs, for the differential and scale specs.

    python3 tools/refread.py --endpoint URL GROUP... [--start MS] [--end MS]
                             [--stream NAME]... [--stream-prefix P] [--filter PATTERN]
    -> one JSON object per event per line (the keys of `cwlogs get --format jsonl`), in the
       order read: group by group, batch of names by batch, page by page

It pages FilterLogEvents by hand until a page has no nextToken (botocore's paginator gives up
on a repeated token, which the service may send), one call chain per group and per batch of
at most 100 stream names, as the API allows. startTime/endTime are sent as given (AWS treats
both as inclusive) and events outside them are dropped. Listed streams and a prefix together
keep the listed streams that start with the prefix (the API refuses both in one call).
Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else dummies (the stand-in does not
check signatures). Retries: botocore's standard mode, 20 attempts.
"""

import argparse
import json
import os
import sys


def boto_client(url, region="us-east-1"):
    import boto3
    from botocore.config import Config
    return boto3.client("logs", endpoint_url=url, region_name=region,
                        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "ref"),
                        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "ref"),
                        config=Config(retries={"mode": "standard", "max_attempts": 20},
                                      connect_timeout=10, read_timeout=120))


def read(client, groups, start=None, end=None, names=None, prefix=None, pattern=None):
    """Every event of the selection, as dicts with the keys of cwlogs' JSONL output."""
    out = []
    if names is not None and prefix is not None:
        names = [n for n in names if n.startswith(prefix)]
        prefix = None
    for g in groups:
        batches = [None]
        if names is not None:
            batches = [names[i:i + 100] for i in range(0, len(names), 100)]
        for batch in batches:
            kw = {"logGroupName": g}
            if start is not None:
                kw["startTime"] = start
            if end is not None:
                kw["endTime"] = end
            if batch is not None:
                kw["logStreamNames"] = batch
            if prefix is not None:
                kw["logStreamNamePrefix"] = prefix
            if pattern is not None:
                kw["filterPattern"] = pattern
            token, rounds = None, 0
            while True:
                if token is not None:
                    kw["nextToken"] = token
                page = client.filter_log_events(**kw)
                for ev in page.get("events", []):
                    ts = ev["timestamp"]
                    if (start is not None and ts < start) or (end is not None and ts > end):
                        continue
                    out.append({"logGroupName": g, "logStreamName": ev["logStreamName"],
                                "timestamp": ts, "ingestionTime": ev.get("ingestionTime"),
                                "eventId": ev["eventId"], "message": ev["message"]})
                token = page.get("nextToken")
                rounds += 1
                if not token or rounds > 1000000:
                    break
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("groups", nargs="+")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--start", type=int)
    ap.add_argument("--end", type=int)
    ap.add_argument("--stream", action="append")
    ap.add_argument("--stream-prefix")
    ap.add_argument("--filter")
    args = ap.parse_args()
    evs = read(boto_client(args.endpoint), args.groups, args.start, args.end, args.stream,
               args.stream_prefix, args.filter)
    w = sys.stdout.write
    for ev in evs:
        w(json.dumps(ev, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
