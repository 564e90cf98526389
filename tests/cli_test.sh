#!/usr/bin/env bash
# The tally command end to end, as a user runs it:
#   tally dev (port 0) + tally produce --journal (another process) -> balance -> txns;
#   a bad line stops produce, names line and field, and nothing after it is appended;
#   SIGTERM while producers append -> "stopped cleanly"; a restart catches up, nothing lost;
#   audit verify's exit status: 0 same, 3 a changed journal byte, 1 cannot check;
#   ledger text escaped in tables; private data dir and exported statement; journal check's exit
#   status (0 sound, 3 a damaged frame, 1 cannot check) and a replay past a damaged frame;
#   tally demo refuses a hold at zero (no negative balance);
#   rejects and signals readable (tally rejects, tally txns of an org whose first event was
#   rejected, tally signals and --follow until SIGINT); tally grants (table and --json); bad serve/dev settings are refused by name; tally serve --config on an embedded journal with
#   scoped tokens whose secrets come from the environment; a readable file holding a secret warns.
# Waits are on conditions with deadlines (polling the views), never fixed sleeps.
set -euo pipefail
tally="$1"
dir=$(mktemp -d)
dev_pid=""
follow_pid=""
cleanup() {
  [ -n "$dev_pid" ] && kill "$dev_pid" 2>/dev/null || true
  [ -n "$follow_pid" ] && kill "$follow_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$dir/dev.log" ] && sed 's/^/  dev: /' "$dir/dev.log" >&2; exit 1; }

start_dev() {
  : > "$dir/dev.log"
  "$tally" dev --data "$dir/d" --listen 127.0.0.1:0 --token cli-test-token-0123456 --tick-interval-ms 0 \
    >"$dir/dev.log" 2>&1 &
  dev_pid=$!
  wait_until "grep -q '^listening on' '$dir/dev.log'" 30 "tally dev to listen"
}
# stop_dev MESSAGE: SIGTERM to the running tally dev/serve; fails with MESSAGE unless it exits 0.
stop_dev() {
  kill -TERM "$dev_pid"
  wait "$dev_pid" || fail "$1"
  dev_pid=""
}
# wait_until CONDITION SECONDS WHAT
wait_until() {
  local deadline=$(( $(date +%s) + $2 ))
  until eval "$1"; do
    [ "$(date +%s)" -le "$deadline" ] || fail "timed out waiting for $3"
    sleep 0.05
  done
}
balance_micros() {
  "$tally" balance "$1" --data "$dir/d" --json 2>/dev/null | grep -o '"balance_micros":-\?[0-9]*' | cut -d: -f2
}

# tally demo: the whole loop on the embedded default; with holds the declined org stops short of
# zero (the refused hold names its folded reason) instead of going negative.
"$tally" demo >"$dir/demo.out" 2>&1 || fail "tally demo exited $?: $(tail -3 "$dir/demo.out")"
grep -q 'the next hold is refused (insufficient_available)' "$dir/demo.out" || fail "demo shows no refused hold"
globex=$(grep '^  globex ' "$dir/demo.out") || fail "demo prints no globex balance line"
case "$globex" in *"balance    -"* | *"balance -"*) fail "globex went negative: $globex" ;; esac
case "$globex" in *"PAUSED: no hold fits"*) ;; *) fail "globex is not shown paused: $globex" ;; esac

t0=1763856000000
cat > "$dir/events.jsonl" <<JSON
{"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":$t0,"version":1,"markup_bp":15000,"byok_fee_bp":0,"models":[{"model":"m","input_per_mtok_micros":75000,"output_per_mtok_micros":0,"cache_read_per_mtok_micros":0,"cache_write_per_mtok_micros":0}]}
{"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":$t0,"credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_1"}

{"type":"usage","idempotency_key":"req-1","org_id":"acme","occurred_at_ms":$((t0 + 1000)),"member_id":"u1","workspace":"w1","meter":"llm_tokens","model":"m","input_tokens":1234}
{"type":"usage","idempotency_key":"req-1","org_id":"acme","occurred_at_ms":$((t0 + 2000)),"member_id":"u1","workspace":"w1","meter":"llm_tokens","model":"m","input_tokens":1234}
JSON

start_dev
out=$("$tally" produce --journal "$dir/d/journal" "$dir/events.jsonl")
[ "$out" = "appended 4 events" ] || fail "produce printed '$out'"
# 1234 input tokens at 75,000 µcr/Mtok, markup 1.5x: ceil(138.825) = 139 µcr; the retry of req-1
# (new time, same payload) is a duplicate.
wait_until '[ "$(balance_micros acme)" = "99999861" ]' 30 "balance 99.999861"
"$tally" balance acme --data "$dir/d" | grep -q "99.999861 credits" || fail "human balance"
txns=$("$tally" txns acme --data "$dir/d")
echo "$txns" | grep -q "purchase .*ch_1 .*applied .*100.000000" || fail "txns lacks the purchase: $txns"
echo "$txns" | grep -q "usage .*req-1 .*applied .*-0.000139 .*99.999861" || fail "txns lacks the usage: $txns"
echo "$txns" | grep -q "usage .*req-1 .*duplicate" || fail "txns lacks the duplicate: $txns"
page=$("$tally" txns acme --data "$dir/d" --limit 1 --cursor 1 --json)
echo "$page" | grep -q '"idempotency_key":"req-1"' || fail "second page: $page"
echo "$page" | grep -q '"next_cursor":"2"' || fail "next cursor: $page"
# The purchase is a paid grant that never expires; the usage took 139 µcr of it (SPEC §12).
grants=$("$tally" grants acme --data "$dir/d")
echo "$grants" | grep -Eq "^ch_1 +active +paid +50 +never +100.000000 +99.999861 +0.000139" || fail "grants table: $grants"
"$tally" grants acme --data "$dir/d" --json --consumptions | grep -q '"idempotency_key":"req-1","occurred_at_ms":[0-9]*,"amount_micros":139' ||
  fail "grants --json: $("$tally" grants acme --data "$dir/d" --json --consumptions)"

# A bad line: reported with its number and field; what follows it is not appended.
cat > "$dir/bad.jsonl" <<JSON
{"type":"signup_allocation","idempotency_key":"s-1","org_id":"acme","occurred_at_ms":$t0,"credits_micros":5000000}
{"type":"purchase","idempotency_key":"ch_2","org_id":"acme","occurred_at_ms":$t0,"credits_micros":1000000,"paid_minor":100,"currency":"usd","fee_minor":0,"bundles":11}
{"type":"signup_allocation","idempotency_key":"s-3","org_id":"acme","occurred_at_ms":$t0,"credits_micros":7000000}
JSON
set +e
out=$("$tally" produce --journal "$dir/d/journal" "$dir/bad.jsonl" 2>"$dir/err")
code=$?
set -e
[ "$code" = 1 ] || fail "produce of a bad line exited $code"
grep -q "line 2: bundles" "$dir/err" || fail "error does not name line 2 and bundles: $(cat "$dir/err")"
[ "$out" = "appended 1 events" ] || fail "produce before the bad line printed '$out'"
wait_until '[ "$(balance_micros acme)" = "104999861" ]' 30 "the signup allocation before the bad line"
"$tally" txns acme --data "$dir/d" --limit 500 | grep -q "s-3" && fail "a line after the bad one was appended"

# Rejects and signals are readable. A business rejection of an org the ledger does not have yet is
# in that org's rejects and transactions; nothing is a record of no org.
cat > "$dir/newco.jsonl" <<JSON
{"type":"admin_adjustment","idempotency_key":"take-1","org_id":"newco","occurred_at_ms":$t0,"credits_micros":-5000000,"reason":"fee","operator":"ops"}
JSON
"$tally" produce --journal "$dir/d/journal" "$dir/newco.jsonl" >/dev/null
wait_until '"$tally" rejects newco --data "$dir/d" | grep -q take-1' 30 "newco's rejection in its rejects"
"$tally" rejects newco --data "$dir/d" | grep -q "before_org .*admin_adjustment .*take-1 .*insufficient_balance" ||
  fail "rejects table: $("$tally" rejects newco --data "$dir/d")"
"$tally" rejects newco --data "$dir/d" --json | grep -q '"placement":"before_org"' || fail "rejects --json"
"$tally" txns newco --data "$dir/d" | grep -q "early .*take-1 .*rejected(insufficient_balance)" ||
  fail "txns of newco: $("$tally" txns newco --data "$dir/d" 2>&1)"
"$tally" rejects --data "$dir/d" --json | grep -q '"rejects":\[\]' || fail "records of no org: $("$tally" rejects --data "$dir/d" --json)"
# The signals log: acme's first credit restored it; --follow prints what comes next until SIGINT.
wait_until '"$tally" signals acme --data "$dir/d" | grep -q balance_restored' 30 "acme's balance_restored in the signals log"
"$tally" signals acme --data "$dir/d" --json | grep -q '"kind":"balance_restored"' || fail "signals --json"
"$tally" signals acme --data "$dir/d" --follow --json > "$dir/follow.out" 2>&1 &
follow_pid=$!
wait_until 'grep -q balance_restored "$dir/follow.out"' 30 "signals --follow to print the log so far"
cat > "$dir/low.jsonl" <<JSON
{"type":"low_balance_threshold_set","idempotency_key":"low-1","org_id":"acme","occurred_at_ms":$t0,"threshold_micros":500000000}
JSON
"$tally" produce --journal "$dir/d/journal" "$dir/low.jsonl" >/dev/null
wait_until 'grep -q balance_low "$dir/follow.out"' 30 "signals --follow to print the new balance_low"
kill -INT "$follow_pid" && wait "$follow_pid" && follow_pid="" || fail "signals --follow did not end with 0 on SIGINT"

# Ledger text reaches the terminal escaped: a key holding ESC [ 2 J shows as \x1b[2J, never as the
# control sequence; a statement exported to a file is the owner's only, like the data dir.
printf '%s\n' "{\"type\":\"signup_allocation\",\"idempotency_key\":\"esc\\u001b[2J\",\"org_id\":\"esc-org\",\"occurred_at_ms\":$t0,\"credits_micros\":1000000}" \
  > "$dir/esc.jsonl"
"$tally" produce --journal "$dir/d/journal" "$dir/esc.jsonl" >/dev/null
wait_until '[ "$(balance_micros esc-org)" = "1000000" ]' 30 "the event with an escape in its key"
"$tally" txns esc-org --data "$dir/d" > "$dir/txns.out"
grep -qF 'esc\x1b[2J' "$dir/txns.out" || fail "txns does not show the escape: $(cat -v "$dir/txns.out")"
grep -q $'\x1b' "$dir/txns.out" && fail "txns printed a raw ESC: $(cat -v "$dir/txns.out")"
"$tally" audit export esc-org --data "$dir/d" --format csv -o "$dir/statement.csv"
[ "$(stat -c %a "$dir/statement.csv")" = 600 ] || fail "the exported statement is $(stat -c %a "$dir/statement.csv"), not 600"
grep -q $'\x1b' "$dir/statement.csv" && fail "the CSV holds a raw ESC"
[ "$(stat -c %a "$dir/d")" = 700 ] || fail "the data dir is $(stat -c %a "$dir/d"), not 700"
[ "$(stat -c %a "$dir/d/views")" = 700 ] || fail "the views dir is $(stat -c %a "$dir/d/views"), not 700"
[ "$(stat -c %a "$dir/d/views/layout")" = 600 ] || fail "the views layout is $(stat -c %a "$dir/d/views/layout"), not 600"
[ "$(stat -c %a "$dir/d/views/p0000/data.mdb")" = 600 ] || fail "the views are $(stat -c %a "$dir/d/views/p0000/data.mdb"), not 600"

# Clean shutdown under load: producers keep appending while tally dev gets SIGTERM.
for p in 1 2 3; do
  for i in $(seq 1 400); do
    echo "{\"type\":\"usage\",\"idempotency_key\":\"load-$p-$i\",\"org_id\":\"acme\",\"occurred_at_ms\":$((t0 + 5000 + i)),\"meter\":\"llm_tokens\",\"model\":\"m\",\"input_tokens\":1234}"
  done > "$dir/load-$p.jsonl"
done
producers=()
for p in 1 2 3; do
  ( for chunk in 1 2 3 4; do
      sed -n "$(( (chunk - 1) * 100 + 1 )),$(( chunk * 100 ))p" "$dir/load-$p.jsonl" |
        "$tally" produce --journal "$dir/d/journal" >/dev/null
    done ) &
  producers+=($!)
done
wait_until '[ "$(balance_micros acme)" != "104999861" ]' 30 "the projector to start on the load"
stop_dev "tally dev exited non-zero on SIGTERM"
grep -q "stopped cleanly" "$dir/dev.log" || fail "no clean stop"
for p in "${producers[@]}"; do wait "$p" || fail "a producer failed"; done
# Restart: the projector resumes at its stored offsets; every one of the 1200 usages counts once.
start_dev
wait_until '[ "$(balance_micros acme)" = "$(( 104999861 - 1200 * 139 ))" ]' 60 "all 1200 load events, once each"
stop_dev "second tally dev exited non-zero"
# audit verify: 0 when a replay of the journal gives the live views, 3 when they differ (a journal
# byte changed after the fact), 1 when it cannot check.
cat > "$dir/marked.jsonl" <<JSON
{"type":"purchase","idempotency_key":"tamper-1","org_id":"beta","occurred_at_ms":$t0,"credits_micros":1000000,"paid_minor":100,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"pay-tamper-target-q"}
JSON
start_dev
"$tally" produce --journal "$dir/d/journal" "$dir/marked.jsonl" >/dev/null
wait_until '[ "$(balance_micros beta)" = "1000000" ]' 30 "the marked purchase"
stop_dev "third tally dev exited non-zero"
verify() { "$tally" audit verify --data "$dir/d" --journal "$1" --progress none >"$dir/verify.out" 2>&1; }
verify "$dir/d/journal" || fail "audit verify of untouched views exited $?: $(cat "$dir/verify.out")"
set +e
verify "$dir/no-such-journal"
code=$?
set -e
[ "$code" = 1 ] || fail "audit verify without a journal exited $code: $(cat "$dir/verify.out")"
# LMDB keeps no checksums: change the last byte of the payment ref wherever the file holds it.
offsets=$(grep -obUa "pay-tamper-target-q" "$dir/d/journal/data.mdb" | cut -d: -f1)
[ -n "$offsets" ] || fail "the marked record is not in the journal file"
for at in $offsets; do
  printf 'r' | dd of="$dir/d/journal/data.mdb" bs=1 seek=$((at + 18)) conv=notrunc status=none
done
set +e
verify "$dir/d/journal"
code=$?
set -e
[ "$code" = 3 ] || fail "audit verify of a changed journal exited $code: $(cat "$dir/verify.out")"
grep -q "tamper-1" "$dir/verify.out" || fail "the report does not name the changed event: $(cat "$dir/verify.out")"

# tally journal check: read-only, exit 0 when every frame is sound (a changed byte inside an event
# is the fold's business, not damage of the journal), 3 when a frame's lengths do not add up; the
# journal's bytes are the same afterwards. A damaged frame does not stop a replay: it is a reject.
"$tally" journal check "$dir/d/journal" > "$dir/check.out" || fail "journal check of a sound journal exited $?"
grep -q ", 0 damaged$" "$dir/check.out" || fail "journal check summary: $(cat "$dir/check.out")"
# Damage every copy of beta's frame in the file: its key length (the 2 bytes after the 8-byte append
# time, before the key "beta" and the event's "TLE1" identifier) runs past the frame's end.
damaged=$(python3 - "$dir/d/journal/data.mdb" <<'PY'
import re, sys
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read())
    n = 0
    for m in re.finditer(rb"\x00\x04beta", data):
        if data[m.end() + 4:m.end() + 8] == b"TLE1":
            data[m.start():m.start() + 2] = b"\xff\xf0"
            n += 1
    f.seek(0)
    f.write(data)
print(n)
PY
)
[ "$damaged" -ge 1 ] || fail "beta's frame is not in the journal file"
sum_before=$(sha256sum "$dir/d/journal/data.mdb" | cut -d' ' -f1)
set +e
"$tally" journal check "$dir/d/journal" > "$dir/check.out" 2>&1
code=$?
set -e
[ "$code" = 3 ] || fail "journal check of a damaged journal exited $code: $(cat "$dir/check.out")"
grep -q "^damaged  events [0-9]*:[0-9]*: key length 65520 past the end of the" "$dir/check.out" ||
  fail "journal check does not name the damage: $(cat "$dir/check.out")"
grep -q ", 1 damaged$" "$dir/check.out" || fail "journal check summary: $(cat "$dir/check.out")"
[ "$(sha256sum "$dir/d/journal/data.mdb" | cut -d' ' -f1)" = "$sum_before" ] || fail "journal check changed the journal"
set +e
"$tally" journal check "$dir/no-such-journal" > "$dir/check.out" 2>&1
code=$?
set -e
[ "$code" = 1 ] || fail "journal check without a journal exited $code"
[ ! -e "$dir/no-such-journal" ] || fail "journal check made a directory"
"$tally" replay --journal "$dir/d/journal" --into "$dir/replayed" > "$dir/replay.out" 2>&1 ||
  fail "replay of a journal with a damaged frame failed: $(cat "$dir/replay.out")"

# Settings: refused by name before anything starts (exit 2), never run quietly with another meaning.
refused() {  # refused WHAT EXPECTED-IN-STDERR tally-args...
  local what="$1" expected="$2"
  shift 2
  set +e
  timeout 20 "$tally" "$@" >"$dir/refused.out" 2>&1
  local code=$?
  set -e
  [ "$code" = 2 ] || fail "$what: exited $code, not 2: $(cat "$dir/refused.out")"
  grep -qF -- "$expected" "$dir/refused.out" || fail "$what: no '$expected' in: $(cat "$dir/refused.out")"
}
refused "a negative tick interval" "--tick-interval-ms: must be 0..86400000 (0: no ticks), got -5" \
  dev --data "$dir/r" --listen 127.0.0.1:0 --tick-interval-ms -5
refused "an empty --kafka" "--kafka: is empty" serve --data "$dir/r" --listen 127.0.0.1:0 --kafka ""
refused "a journal and Kafka" "--journal: give either" serve --data "$dir/r" --journal "$dir/j" --kafka k:9092
printf 'listen = "127.0.0.1:0"\n[stripe]\ncurency = "usd"\n' > "$dir/typo.toml"
refused "an unknown config key" "typo.toml:3: stripe.curency: unknown key" serve --config "$dir/typo.toml" --data "$dir/r"

# tally serve --config: an embedded journal elsewhere than the data dir, tokens from the file
# whose secrets come from the environment (nothing secret on the command line), one org-scoped.
cat > "$dir/tally.toml" <<TOML
data = "$dir/s"
journal = "$dir/j"
listen = "127.0.0.1:0"
tick_interval_ms = 0
[[token]]
name = "ops"
secret_env = "CLI_TEST_OPS_TOKEN"
scopes = ["admin"]
[[token]]
name = "acme"
secret = "acme-secret-in-the-file-0123"
scopes = ["org:acme"]
TOML
chmod 644 "$dir/tally.toml"
: > "$dir/dev.log"
CLI_TEST_OPS_TOKEN=ops-secret-from-env-0123456 "$tally" serve --config "$dir/tally.toml" >"$dir/dev.log" 2>&1 &
dev_pid=$!
wait_until "grep -q '^listening on' '$dir/dev.log'" 30 "tally serve --config to listen"
grep -q "warning: $dir/tally.toml holds secrets (token\[1\].secret)" "$dir/dev.log" || fail "no warning for a readable file holding a secret"
grep -q "acme-secret-in-the-file" "$dir/dev.log" && fail "a secret was printed"
grep -q "on embedded journal $dir/j" "$dir/dev.log" || fail "serve does not say which journal"
"$tally" produce --journal "$dir/j" "$dir/events.jsonl" >/dev/null
wait_until '[ "$("$tally" balance acme --data "$dir/s" --json 2>/dev/null | grep -o "\"balance_micros\":[0-9]*" | cut -d: -f2)" = 99999861 ]' 30 \
  "the events produced into --journal to reach the views"
url=$(grep -o 'http://[0-9.:]*' "$dir/dev.log" | head -1)
status() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$url$2"; }
[ "$(status ops-secret-from-env-0123456 /api/v1/org/acme/credits)" = 200 ] || fail "the admin token from the environment is refused"
[ "$(status acme-secret-in-the-file-0123 /api/v1/org/acme/credits)" = 200 ] || fail "the org token cannot read its org"
[ "$(status acme-secret-in-the-file-0123 /api/v1/org/beta/credits)" = 403 ] || fail "the org token reads another org"
stop_dev "tally serve --config exited non-zero"

# tally dev takes the same scoped tokens as serve, so the roles can be tried on one machine.
: > "$dir/dev.log"
"$tally" dev --data "$dir/s" --journal "$dir/j" --listen 127.0.0.1:0 --tick-interval-ms 0 \
  --token ops:ops-secret-on-the-flag-0123:admin --token acme:acme-secret-on-the-flag-01:org:acme >"$dir/dev.log" 2>&1 &
dev_pid=$!
wait_until "grep -q '^listening on' '$dir/dev.log'" 30 "tally dev with scoped tokens to listen"
url=$(grep -o 'http://[0-9.:]*' "$dir/dev.log" | head -1)
grep -q "admin token:" "$dir/dev.log" && fail "dev generated an admin token although tokens were given"
[ "$(status acme-secret-on-the-flag-01 /api/v1/org/acme/credits)" = 200 ] || fail "dev: the org token cannot read its org"
[ "$(status acme-secret-on-the-flag-01 /api/v1/org/beta/credits)" = 403 ] || fail "dev: the org token reads another org"
[ "$(status ops-secret-on-the-flag-0123 /api/v1/org/acme/credits)" = 200 ] || fail "dev: the admin token is refused"
stop_dev "tally dev with scoped tokens exited non-zero"
echo "cli_test: ok"
