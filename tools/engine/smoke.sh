#!/usr/bin/env bash
# What the real Pulumi CLI can prove without a language host or provider plugins: stacks on a
# local file:// backend, and config secrets encrypted with a passphrase, checked in the
# Pulumi.<stack>.yaml files the CLI writes. Runs the CLI that tools/engine/build.sh built;
# everything happens in a temporary directory (the repository's stack files are copied).
# Exit: 0 when every check passed, 1 when one failed, 2 when the CLI has not been built.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$("$repo/tools/engine/build.sh" path)
if [ ! -x "$bin/pulumi" ]; then
  echo "engine: no pulumi CLI in $bin; run ./run engine build first" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project" "$work/state"
cp "$repo/Pulumi.yaml" "$repo"/Pulumi.*.yaml "$work/project/"
cd "$work/project"

export PATH="$bin:$PATH"
export PULUMI_HOME=$work/home
export PULUMI_BACKEND_URL=file://$work/state
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_CONFIG_PASSPHRASE=smoke-passphrase-1
secret="smoke secret $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    echo "ok    $what"
    passed=$((passed + 1))
  else
    echo "FAIL  $what"
    sed 's/^/      /' "$work/out" | tail -n 15
    failed=$((failed + 1))
  fi
}
pulumi() { command pulumi --non-interactive "$@"; }
file_has() { grep -qE "$2" "$1"; }
file_lacks() { ! grep -qF "$2" "$1"; }
secure_entry() { grep -A1 -x "  k3s-platform:$2:" "$1" | grep -qE '^    secure: v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$'; }
get_is() { [ "$(pulumi config get "$1" --stack "$2")" = "$3" ]; }
set_secret_from_file() { pulumi config set --secret "$1" --stack "$2" <"$3"; }
get_is_file() { pulumi config get "$1" --stack "$2" >"$work/got" && cmp -s "$work/got" "$3"; }
# Keys Pulumi.yaml declares with `secret: true` (two-space keys under `config:`).
secret_keys() {
  awk '/^config:/ {c = 1; next} /^[^ #]/ {c = 0}
       c && /^  [A-Za-z]/ {k = $1; sub(":", "", k)}
       c && /^    secret: true/ {print k}' "$repo/Pulumi.yaml"
}
# Without a language host, `pulumi preview` still checks the stack's config against the
# project's declared config (required keys, types) before it needs the host: a preview that
# stops at the missing host has passed that check.
preview_stops_at_language_host() {
  ! pulumi preview --stack "$1" >"$work/preview" 2>&1 &&
    ! grep -q 'validating stack config' "$work/preview" &&
    grep -q "failed to load language plugin python" "$work/preview"
}
preview_refuses_config() {
  ! pulumi preview --stack "$1" >"$work/preview" 2>&1 && grep -q "$2" "$work/preview"
}
wrong_passphrase_refused() {
  ! PULUMI_CONFIG_PASSPHRASE=not-the-passphrase command pulumi --non-interactive \
    config get sshPrivateKey --stack smoke
}

echo "pulumi $(command pulumi version) (real CLI), backend $PULUMI_BACKEND_URL"

# A fresh stack: the CLI writes its passphrase salt and the secret, encrypted, into the file.
check "stack init smoke (file backend, passphrase secrets)" \
  pulumi stack init smoke --secrets-provider passphrase
check "config set --secret sshPrivateKey" \
  pulumi config set --secret sshPrivateKey "$secret" --stack smoke
check "config set domain (plain)" pulumi config set domain smoke.example.org --stack smoke
check "Pulumi.smoke.yaml has an encryptionsalt" file_has Pulumi.smoke.yaml '^encryptionsalt: v1:'
check "Pulumi.smoke.yaml holds the secret as secure: v1:..." \
  secure_entry Pulumi.smoke.yaml sshPrivateKey
check "Pulumi.smoke.yaml does not hold the secret in clear" file_lacks Pulumi.smoke.yaml "$secret"
check "config get decrypts the secret" get_is sshPrivateKey smoke "$secret"
check "config get of a plain value" get_is domain smoke smoke.example.org
check "a wrong passphrase cannot decrypt it" wrong_passphrase_refused
printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE KEY-----\n' \
  "$(od -An -N48 -tx1 /dev/urandom | tr -d ' \n')" >"$work/key"
check "config set --secret from stdin (a multi-line key)" \
  set_secret_from_file sshPrivateKey smoke "$work/key"
check "config get returns the multi-line key as given" get_is_file sshPrivateKey smoke "$work/key"
host=0
command -v pulumi-language-python >/dev/null 2>&1 && host=1
if [ "$host" = 0 ]; then
  check "preview refuses a stack that lacks required config" \
    preview_refuses_config smoke 'missing configuration values'
fi

# The repository's own stack files, as the CLI reads them.
for f in "$repo"/Pulumi.*.yaml; do
  stack=$(basename "$f" .yaml)
  stack=${stack#Pulumi.}
  check "stack init $stack over the committed Pulumi.$stack.yaml" pulumi stack init "$stack"
  check "config of $stack parses (pulumi config --json)" pulumi config --stack "$stack" --json
  if [ "$host" = 0 ]; then
    # The operator sets the secrets; placeholders stand in for them here.
    for key in $(secret_keys); do
      pulumi config set --secret "$key" "placeholder-$key" --stack "$stack" >/dev/null
    done
    check "$stack config passes the CLI's project-config check (preview reaches the host)" \
      preview_stops_at_language_host "$stack"
  fi
done

# The engine's own analyzer client (policy-calls, built beside the CLI) against the pack: the
# benchmark's "as the engine calls it" figures come from it (tools/bench/engine_calls.py).
policy_calls_agree() { (cd "$repo" && venv/bin/python -m tools.bench.engine_calls "$bin/policy-calls"); }
if [ -x "$bin/policy-calls" ] && [ -x "$repo/venv/bin/python" ]; then
  check "policy-calls (the engine's analyzer client) gets the pack's diagnostics" policy_calls_agree
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
