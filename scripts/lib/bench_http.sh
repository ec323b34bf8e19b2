# HTTP helpers of scripts/bench: accounts, tokens, intakes and (once it exists) BookSession
# setup over coachd's public API, with curl on 127.0.0.1 only. Sourced; needs $api (base URL)
# and $work (the run's scratch directory).

# bench_send METHOD PATH BODY [TOKEN] -> prints the body; fails unless the status is 2xx.
# Sign-up and sign-in are rate-limited per client address (gateway/identity.hpp), and the setup
# signs in well over a hundred sessions: those requests leave from a random loopback source
# address (127.0.0.20-219; the server is still 127.0.0.1), and a 429 is retried after its
# Retry-After.
bench_send() {
  local method=$1 path=$2 body=$3 token=${4:-} status attempt retry
  local auth=() source=()
  if [ -n "$token" ]; then auth=(-H "Authorization: Bearer $token"); fi
  for attempt in 1 2 3 4 5 6; do
    case $path in /api/v1/auth/*) source=(--interface "127.0.0.$((RANDOM % 200 + 20))") ;; esac
    status=$(curl -sS -X "$method" -o "$work/last.body" -D "$work/last.headers" -w '%{http_code}' \
      "${source[@]}" "${auth[@]}" -H 'Content-Type: application/json' --data-binary "$body" "$api$path") \
      || { echo "bench: $method $path: curl failed" >&2; return 1; }
    [ "$status" = 429 ] || break
    retry=$(awk 'tolower($1) == "retry-after:" {print $2 + 0; exit}' "$work/last.headers")
    sleep "${retry:-1}"
  done
  if [ "${status:0:1}" != 2 ]; then
    echo "bench: $method $path -> $status: $(head -c 600 "$work/last.body")" >&2
    return 1
  fi
  cat "$work/last.body"
}

# bench_post PATH BODY [TOKEN]
bench_post() { bench_send POST "$@"; }

# bench_get PATH TOKEN -> prints the body; fails unless 2xx.
bench_get() {
  local path=$1 token=$2 status
  status=$(curl -sS -o "$work/last.body" -w '%{http_code}' -H "Authorization: Bearer $token" "$api$path") \
    || { echo "bench: GET $path: curl failed" >&2; return 1; }
  if [ "${status:0:1}" != 2 ]; then
    echo "bench: GET $path -> $status: $(head -c 600 "$work/last.body")" >&2
    return 1
  fi
  cat "$work/last.body"
}

# bench_sign_up EMAIL ROLE -> prints the account id (waits until sign-in can see it).
bench_sign_up() {
  local email=$1 role=$2 answer
  answer=$(bench_post /api/v1/auth/sign-up \
    "{\"email\":\"$email\",\"password\":\"bench-password-2026\",\"display_name\":\"Bench $role\",\"role\":\"$role\"}") \
    || return 1
  echo "$answer" | jq -r .id
  echo "$answer" | jq -r .consistency_token >"$work/last.token"
}

# bench_sign_in EMAIL -> prints a fresh bearer token (each call is a new session).
bench_sign_in() {
  local email=$1 after=""
  if [ -s "$work/last.token" ]; then after="?after=$(cat "$work/last.token")"; fi
  bench_post "/api/v1/auth/sign-in$after" "{\"email\":\"$email\",\"password\":\"bench-password-2026\"}" \
    | jq -r .token
}

# bench_has_operation ID: is operationId ID in the served OpenAPI document?
bench_has_operation() {
  curl -sS "$api/api/v1/openapi.json" | jq -e --arg id "$1" \
    '[.paths[][] | objects | .operationId? // empty] | index($id) != null' >/dev/null
}

# --- BookSession -------------------------------------------------------------------------------
# bench_booking_setup COACHES CLIENTS OUT LINES: COACHES coaches, each open around the clock in
# UTC with a 30-minute session type (no notice, two-year horizon, no daily limit), and CLIENTS
# signed-in clients, all over HTTP; then OUT gets LINES BookSession requests for
# bench/requests.lua (a client books type + start, as the portal does), each a distinct
# (coach, slot) pair so that nothing conflicts. Returns non-zero with the reason on stderr when
# bookSession is not in the OpenAPI document or a setup call is refused; the bench then measures
# SubmitIntake alone and says why.
bench_booking_setup() {
  local coaches=$1 clients=$2 out=$3 lines=$4 i email id token st day weekly=""
  bench_has_operation bookSession || { echo "bookSession is not in /api/v1/openapi.json" >&2; return 1; }
  for day in monday tuesday wednesday thursday friday saturday sunday; do
    weekly+="${weekly:+,}{\"day\":\"$day\",\"start\":\"00:00\",\"end\":\"24:00\"}"
  done
  : >"$work/booking.coaches"
  for ((i = 0; i < coaches; i++)); do
    email="book-coach-$i@bench.example"
    id=$(bench_sign_up "$email" coach) || return 1
    token=$(bench_sign_in "$email") || return 1
    bench_send PUT /api/v1/me/availability "{\"time_zone\":\"UTC\",\"weekly\":[$weekly]}" "$token" >/dev/null \
      || return 1
    st=$(bench_post /api/v1/me/session-types \
      '{"name":"Coaching session","duration_minutes":30,"min_notice_minutes":0,"horizon_days":730,"price_cents":9000,"currency":"EUR"}' \
      "$token" | jq -r .id) || return 1
    printf '%s\t%s\n' "$id" "$st" >>"$work/booking.coaches"
  done
  : >"$work/booking.clients"
  for ((i = 0; i < clients; i++)); do
    email="book-client-$i@bench.example"
    bench_sign_up "$email" client >/dev/null || return 1
    bench_sign_in "$email" >>"$work/booking.clients" || return 1
  done
  python3 - "$work/booking.coaches" "$work/booking.clients" "$out" "$lines" <<'PY' || return 1
import datetime, json, sys
coaches = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
clients = [l.strip() for l in open(sys.argv[2]) if l.strip()]
lines = int(sys.argv[4])
start = (datetime.datetime.utcnow() + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
with open(sys.argv[3], "w") as f:
    for i in range(lines):
        coach, st = coaches[i % len(coaches)]
        slot = start + datetime.timedelta(minutes=30 * (i // len(coaches)))
        body = {"type": st, "start": slot.strftime("%Y-%m-%dT%H:%M:%SZ")}
        f.write(f"POST\t/api/v1/coaches/{coach}/sessions\t{clients[i % len(clients)]}\t"
                f"{json.dumps(body, separators=(',', ':'))}\n")
PY
  # One booking proves the shapes before the load starts; its slot is then left out.
  local path body
  IFS=$'\t' read -r _ path token body <"$out"
  bench_post "$path" "$body" "$token" >/dev/null || return 1
  sed -i 1d "$out"
}
