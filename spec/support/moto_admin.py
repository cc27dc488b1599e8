#!/usr/bin/env python3
"""Admin side of the moto test harness (boto3): set-up, seeding, and the oracle.

Usage: moto_admin.py COMMAND < args.json > result.json
Environment: MOTO_ENDPOINT, and (after `setup`) MOTO_KEY / MOTO_SECRET for signed calls.

boto3 is independent of cwlogs, so "what boto3 returns" is what our specs compare with.
Commands (args and results are JSON objects):
  setup            {}                      -> {access_key, secret_key}; creates an IAM user
                                              with an allow-all policy, then switches moto's
                                              signature checking on
  create_role      {name}                  -> {arn}; assumable role with an allow-all policy
  create_groups    {names:[...]}           -> {}
  create_streams   {group, names:[...]}    -> {}
  put_events       {group, stream, events:[{timestamp, message}]} -> {count}
  seed             {group, streams:{name:[events]}} -> {count}; creates group and streams
  filter           {group, start?, end?, streams?, prefix?, pattern?} -> {events:[...]}
                   every page of FilterLogEvents, as boto3 returns it
  delete_group     {group}                 -> {}
"""
import json
import os
import sys
import urllib.request

import boto3

ENDPOINT = os.environ["MOTO_ENDPOINT"]
REGION = "us-east-1"
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION,
                        aws_access_key_id=os.environ.get("MOTO_KEY", "bootstrap"),
                        aws_secret_access_key=os.environ.get("MOTO_SECRET", "bootstrap"))


def setup(_):
    iam = client("iam")
    iam.create_user(UserName="cwlogs-test")
    key = iam.create_access_key(UserName="cwlogs-test")["AccessKey"]
    iam.put_user_policy(UserName="cwlogs-test", PolicyName="all", PolicyDocument=ALLOW_ALL)
    req = urllib.request.Request(ENDPOINT + "/moto-api/reset-auth", data=b"0",
                                 headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(req).read()
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}


def create_role(args):
    iam = client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName=args["name"], AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(RoleName=args["name"], PolicyName="all", PolicyDocument=ALLOW_ALL)
    return {"arn": role["Arn"]}


def create_groups(args):
    logs = client("logs")
    for name in args["names"]:
        logs.create_log_group(logGroupName=name)
    return {}


def create_streams(args):
    logs = client("logs")
    for name in args["names"]:
        logs.create_log_stream(logGroupName=args["group"], logStreamName=name)
    return {}


def put_events(args, logs=None):
    logs = logs or client("logs")
    events = sorted(args["events"], key=lambda e: e["timestamp"])
    batch, size, count = [], 0, 0
    for ev in events:
        ev_size = len(ev["message"].encode("utf-8")) + 26
        if batch and (len(batch) >= 10000 or size + ev_size > 1_000_000):
            logs.put_log_events(logGroupName=args["group"], logStreamName=args["stream"],
                                logEvents=batch)
            count += len(batch)
            batch, size = [], 0
        batch.append({"timestamp": ev["timestamp"], "message": ev["message"]})
        size += ev_size
    if batch:
        logs.put_log_events(logGroupName=args["group"], logStreamName=args["stream"],
                            logEvents=batch)
        count += len(batch)
    return {"count": count}


def seed(args):
    logs = client("logs")
    try:
        logs.create_log_group(logGroupName=args["group"])
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    total = 0
    for stream, events in args["streams"].items():
        logs.create_log_stream(logGroupName=args["group"], logStreamName=stream)
        if events:
            total += put_events({"group": args["group"], "stream": stream, "events": events},
                                logs)["count"]
    return {"count": total}


def filter_(args):
    logs = client("logs")
    params = {"logGroupName": args["group"]}
    if "start" in args:
        params["startTime"] = args["start"]
    if "end" in args:
        params["endTime"] = args["end"]
    if args.get("streams"):
        params["logStreamNames"] = args["streams"]
    if args.get("prefix"):
        params["logStreamNamePrefix"] = args["prefix"]
    if args.get("pattern"):
        params["filterPattern"] = args["pattern"]
    out = []
    for page in logs.get_paginator("filter_log_events").paginate(**params):
        out.extend(page["events"])
    return {"events": out}


def delete_group(args):
    client("logs").delete_log_group(logGroupName=args["group"])
    return {}


COMMANDS = {"setup": setup, "create_role": create_role, "create_groups": create_groups,
            "create_streams": create_streams, "put_events": put_events, "seed": seed,
            "filter": filter_, "delete_group": delete_group}

if __name__ == "__main__":
    result = COMMANDS[sys.argv[1]](json.load(sys.stdin))
    json.dump(result, sys.stdout, ensure_ascii=False)
