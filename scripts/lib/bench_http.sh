# HTTP helpers of scripts/bench: accounts, tokens, intakes and (once it exists) BookSession
# setup over coachd's public API, with curl on 127.0.0.1 only. Sourced; needs $api (base URL)
# and $work (the run's scratch directory).

# bench_post PATH BODY [TOKEN] -> prints the body; fails unless the status is 2xx.
bench_post() {
  local path=$1 body=$2 token=${3:-} out status
  local auth=()
  if [ -n "$token" ]; then auth=(-H "Authorization: Bearer $token"); fi
  out=$(curl -sS -o "$work/last.body" -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
    --data-binary "$body" "$api$path") || { echo "bench: POST $path: curl failed" >&2; return 1; }
  status=$out
  if [ "${status:0:1}" != 2 ]; then
    echo "bench: POST $path -> $status: $(head -c 600 "$work/last.body")" >&2
    return 1
  fi
  cat "$work/last.body"
}

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
# The plug for the scheduling slice. bench_booking_setup COACH_COUNT OUT LINES sets up
# COACH_COUNT coaches over HTTP (a session type and weekly availability each) and writes OUT:
# LINES booking requests for bench/requests.lua, each a distinct (coach, slot) so that nothing
# conflicts. It returns non-zero (and the bench measures SubmitIntake instead, saying so) while
# the API does not exist or its shapes differ from what is written here. The request shapes
# below follow gateway/openapi/50_scheduling.json once it lands; adjust them here only.
bench_booking_setup() {
  local coaches=$1 out=$2 lines=$3 i email id token st
  bench_has_operation bookSession || { echo "bookSession is not in /api/v1/openapi.json yet"; return 1; }
  : >"$work/booking.coaches"
  for ((i = 0; i < coaches; i++)); do
    email="book-coach-$i@bench.example"
    id=$(bench_sign_up "$email" coach) || return 1
    token=$(bench_sign_in "$email") || return 1
    st=$(bench_post "/api/v1/coaches/$id/session-types" \
      '{"name":"Coaching session","duration_minutes":30,"price":{"amount":9000,"currency":"EUR"}}' "$token" \
      | jq -r .id) || return 1
    # Open every day, all day, so that LINES/COACHES half-hour slots exist over the next weeks.
    bench_post "/api/v1/coaches/$id/availability" \
      '{"time_zone":"UTC","weekly":[{"weekday":"monday","start":"00:00","end":"24:00"},{"weekday":"tuesday","start":"00:00","end":"24:00"},{"weekday":"wednesday","start":"00:00","end":"24:00"},{"weekday":"thursday","start":"00:00","end":"24:00"},{"weekday":"friday","start":"00:00","end":"24:00"},{"weekday":"saturday","start":"00:00","end":"24:00"},{"weekday":"sunday","start":"00:00","end":"24:00"}]}' \
      "$token" >/dev/null || return 1
    printf '%s\t%s\t%s\n' "$id" "$token" "$st" >>"$work/booking.coaches"
  done
  python3 - "$work/booking.coaches" "$out" "$lines" <<'PY' || return 1
import datetime, json, sys
coaches = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
lines = int(sys.argv[3])
start = (datetime.datetime.utcnow() + datetime.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
with open(sys.argv[2], "w") as f:
    for i in range(lines):
        coach, token, st = coaches[i % len(coaches)]
        slot = start + datetime.timedelta(minutes=30 * (i // len(coaches)))
        body = {"session_type_id": st, "starts_at": slot.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "client": {"name": f"Client {i}", "email": f"client-{i}@bench.example"}}
        f.write(f"POST\t/api/v1/coaches/{coach}/bookings\t{token}\t{json.dumps(body, separators=(',', ':'))}\n")
PY
  # One probe booking proves the shapes before the load starts (and is then skipped).
  local first
  first=$(head -n 1 "$out")
  IFS=$'\t' read -r _ path token body <<<"$first"
  bench_post "$path" "$body" "$token" >/dev/null || return 1
  sed -i 1d "$out"
}
