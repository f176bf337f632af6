#!/bin/sh
# Registers (or updates) the outbox connector on Kafka Connect from a template of this folder and
# waits until its task runs. POSIX sh + curl + sed only, so it runs in a small curl image: the
# compose file's `register-connector` service and the Helm chart's registration Job.
#
#   CONNECT_URL=http://connect:8083 CONNECTOR_TEMPLATE=deploy/connectors/yugabytedb-outbox.json \
#   DB_HOSTS=yugabytedb:5433 DB_PORT=5433 DB_USER=yugabyte DB_PASSWORD=yugabyte DB_NAME=yugabyte \
#   TOPIC=tickwise.run-events sh deploy/connectors/register.sh
#
# Settings (environment): CONNECT_URL (required), CONNECTOR_TEMPLATE (required), CONNECTOR_NAME
# (tickwise-outbox), REGISTER_TIMEOUT (seconds, 300), and the template's placeholders: DB_HOST,
# DB_HOSTS, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, TOPIC, TOPIC_PARTITIONS (3), TOPIC_PREFIX,
# SLOT_NAME and PUBLICATION_NAME (the last three default to the connector name, with "_" for "-").
# Exit codes: 0 running, 1 Connect refused or failed it (or it did not run in time), 2 bad settings.
set -eu

fail() { echo "register-connector: $1" >&2; exit "${2:-1}"; }

[ -n "${CONNECT_URL:-}" ] || fail "CONNECT_URL is not set (e.g. http://connect:8083)" 2
[ -n "${CONNECTOR_TEMPLATE:-}" ] || fail "CONNECTOR_TEMPLATE is not set (a JSON file of deploy/connectors)" 2
[ -r "$CONNECTOR_TEMPLATE" ] || fail "cannot read CONNECTOR_TEMPLATE $CONNECTOR_TEMPLATE" 2
CONNECT_URL=${CONNECT_URL%/}
NAME=${CONNECTOR_NAME:-tickwise-outbox}
TIMEOUT=${REGISTER_TIMEOUT:-300}
case "$NAME" in *[!A-Za-z0-9._-]*|'') fail "CONNECTOR_NAME must be letters, digits, '.', '_' or '-', got \"$NAME\"" 2 ;; esac
case "$TIMEOUT" in *[!0-9]*|'') fail "REGISTER_TIMEOUT must be whole seconds, got \"$TIMEOUT\"" 2 ;; esac
slot_default=$(printf '%s' "$NAME" | tr 'A-Z.-' 'a-z__')
: "${TOPIC_PREFIX:=$NAME}" "${SLOT_NAME:=$slot_default}" "${PUBLICATION_NAME:=$slot_default}" "${TOPIC_PARTITIONS:=3}"
export TOPIC_PREFIX SLOT_NAME PUBLICATION_NAME TOPIC_PARTITIONS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$CONNECTOR_TEMPLATE" "$work/config.json"

# Fill ${NAME} placeholders (upper case only: Debezium's own ${routedByValue} stays). A value is
# escaped for JSON (\ and ") and then for sed's replacement (\, & and the | delimiter).
for placeholder in DB_HOST DB_HOSTS DB_PORT DB_USER DB_PASSWORD DB_NAME TOPIC TOPIC_PARTITIONS TOPIC_PREFIX SLOT_NAME PUBLICATION_NAME; do
  grep -q "\${$placeholder}" "$work/config.json" || continue
  eval "isset=\${$placeholder+yes} value=\${$placeholder:-}"
  [ -n "$isset" ] || fail "the template uses \${$placeholder} but $placeholder is not set" 2
  # An empty password is a real one (trust or peer authentication); an empty host or name is not.
  [ -n "$value" ] || [ "$placeholder" = DB_PASSWORD ] || fail "$placeholder is empty (the template uses \${$placeholder})" 2
  escaped=$(printf '%s' "$value" | sed -e 's/[\\"]/\\&/g' -e 's/[\\&|]/\\&/g')
  sed -i "s|\\\${$placeholder}|$escaped|g" "$work/config.json"
done
left=$(grep -o '\${[A-Z][A-Z0-9_]*}' "$work/config.json" | sort -u | tr '\n' ' ' || true)
[ -z "$left" ] || fail "no value for ${left% } in $CONNECTOR_TEMPLATE" 2
class=$(sed -n 's/.*"connector.class": *"\([^"]*\)".*/\1/p' "$work/config.json" | head -n 1)

deadline=$(( $(date +%s) + TIMEOUT ))
past_deadline() { [ "$(date +%s)" -ge "$deadline" ]; }

# Connect answers and has the connector's plugin.
until curl -fsS "$CONNECT_URL/connector-plugins" -o "$work/plugins.json" 2>/dev/null && grep -q "\"$class\"" "$work/plugins.json"; do
  past_deadline && fail "Kafka Connect at $CONNECT_URL did not answer with plugin $class within ${TIMEOUT}s"
  sleep 2
done

status=$(curl -sS -o "$work/put.json" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  --data-binary "@$work/config.json" "$CONNECT_URL/connectors/$NAME/config") || fail "PUT $CONNECT_URL/connectors/$NAME/config failed"
case "$status" in
  200|201) echo "register-connector: $NAME configured from $CONNECTOR_TEMPLATE (HTTP $status)" ;;
  *) fail "Kafka Connect refused $NAME (HTTP $status): $(cat "$work/put.json")" ;;
esac

# The connector and its task RUNNING; FAILED ends the wait with the first line of the trace.
while :; do
  curl -fsS "$CONNECT_URL/connectors/$NAME/status" -o "$work/status.json" 2>/dev/null || : > "$work/status.json"
  states=$(grep -o '"state":"[A-Z_]*"' "$work/status.json" | sed 's/"state":"\(.*\)"/\1/' | tr '\n' ' ')
  case "$states" in
    *FAILED*) fail "$NAME failed: $(sed -n 's/.*"trace":"\([^"\\]*\).*/\1/p' "$work/status.json" | head -n 1)" ;;
    "RUNNING RUNNING"*) echo "register-connector: $NAME is running"; exit 0 ;;
  esac
  past_deadline && fail "$NAME did not run within ${TIMEOUT}s (states: ${states:-none})"
  sleep 2
done
