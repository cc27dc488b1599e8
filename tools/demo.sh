#!/bin/sh
# `make demo`: start moto (signature checking on), seed a demo log group over the last two
# days, and run cwlogs against it. Everything stays on 127.0.0.1; moto is stopped at the end.
set -eu
cd "$(dirname "$0")/.."
mkdir -p .demo
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
moto_server -H 127.0.0.1 -p "$port" > .demo/moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT INT TERM
i=0
until curl -s -o /dev/null "$endpoint/moto-api/"; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "moto did not start" >&2; exit 1; }; sleep 0.1
done

# An IAM user for signed calls, then signature checking on (as AWS does).
keys=$(echo '{}' | MOTO_ENDPOINT=$endpoint python3 spec/support/moto_admin.py setup)
AWS_ACCESS_KEY_ID=$(echo "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key"])')
AWS_SECRET_ACCESS_KEY=$(echo "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_key"])')
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$endpoint"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION 2>/dev/null || true

python3 - <<'PY' | MOTO_ENDPOINT=$endpoint MOTO_KEY=$AWS_ACCESS_KEY_ID MOTO_SECRET=$AWS_SECRET_ACCESS_KEY \
  python3 spec/support/moto_admin.py seed > /dev/null
import json, random, time
random.seed(7)
now = int(time.time() * 1000)
start = now - 2 * 86400 * 1000
streams = {}
for s in range(3):
    evs, t = [], start + s * 1000
    while t < now - 60000:
        r = random.random()
        if r < 0.05:
            msg = "ERROR request failed: upstream timeout after 3000 ms\n  at handler (index.js:42)\n  at run (lambda.js:7)"
        elif r < 0.15:
            msg = "WARN slow response: %d ms" % random.randint(800, 3000)
        else:
            msg = "INFO GET /api/items/%d 200 %d ms — ok ✓" % (random.randint(1, 999), random.randint(3, 90))
        evs.append({"timestamp": t, "message": msg})
        t += random.randint(30000, 120000)
    streams["2026/11/%02d/[$LATEST]%032x" % (s + 1, random.getrandbits(128))] = evs
print(json.dumps({"group": "/aws/lambda/demo-api", "streams": streams}))
PY

run() { echo; echo "\$ $*"; "$@"; }
run bin/cwlogs groups
run bin/cwlogs streams /aws/lambda/demo-api
echo; echo '$ bin/cwlogs get /aws/lambda/demo-api --start "2 days ago" | head -n 8'
bin/cwlogs get /aws/lambda/demo-api --start "2 days ago" | head -n 8
echo; echo '$ bin/cwlogs get /aws/lambda/demo-api --start "2 days ago" | wc -l'
bin/cwlogs get /aws/lambda/demo-api --start "2 days ago" | wc -l
run bin/cwlogs get /aws/lambda/demo-api --start "yesterday at 3pm" --end "yesterday at 4pm" \
  --grep '^ERROR' -t --tz utc --show-stream
echo; echo '$ bin/cwlogs get /aws/lambda/demo-api --start "6 hours ago" --format jsonl | head -n 2'
bin/cwlogs get /aws/lambda/demo-api --start "6 hours ago" --format jsonl | head -n 2
echo; echo "$ bin/cwlogs get /aws/lambda/demo-api --start tuesdy   # a bad time: exit 2"
bin/cwlogs get /aws/lambda/demo-api --start tuesdy || echo "(exit status $?)"
