#!/usr/bin/env bash
# The real Pulumi engine, built from Go modules at the versions requirements.txt pins.
#   tools/engine/build.sh build [--require-all] [TOOL...]
#                                                 build what is missing (all tools, or the named
#                                                 ones) into the cache, then report
#   tools/engine/build.sh status                  report what the cache holds, building nothing
#   tools/engine/build.sh path                    print the bin directory for the current pins
# The tools are listed in tools/engine/tools.tsv; a tool of kind "go" is built from the small module
# tools/engine/go/<name>/ (go.mod + go.sum, committed) when that module exists. A tool whose upstream
# module the Go module proxy does not serve at its pin is reported as BLOCKED, with the
# proxy's answer, and nothing is put in its place.
# Cache (outside the repository): ${K3SP_ENGINE_CACHE:-~/.cache/k3s-platform/engine}/
#   <pulumi pin>-<key>/bin   the binaries; <key> hashes the pins, tools/engine/go/, and `go version`
#   ../go/mod, ../go/build   GOMODCACHE and GOCACHE, shared with the lab (K3SP_GO_CACHE moves them)
#   ../src/                  provider source trees prepared for building (tools/engine/sources.py)
# Exit status: 0 when every tool was built or is blocked (reported); 1 on an unexpected
# failure (a build error, a proxy error other than "not served"); 3 with --require-all when
# any tool is missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
manifest=$repo/tools/engine/tools.tsv
modules=$repo/tools/engine/go  # one Go module per folder
cache_root=${K3SP_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k3s-platform/engine}
# One Go module cache and one build cache for every engine and lab build (tools/lab/binaries.py
# and tools/engine/sources.py use the same), so a module is downloaded once.
go_cache=${K3SP_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k3s-platform/go}
GOMODCACHE=$go_cache/mod
GOCACHE=$go_cache/build
GOFLAGS='-modcacherw -buildvcs=false'
export GOMODCACHE GOCACHE GOFLAGS

die() { echo "engine: $*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "go is not installed (the engine is built from Go modules)"

# The pin of one requirements.txt entry, as a Go version: pulumi==3.272.0 -> v3.272.0.
pin_of() {
  local v
  v=$(sed -n "s/^$1==\([^ ;#]*\).*/\1/p" "$repo/requirements.txt" | head -n1)
  [ -n "$v" ] || die "requirements.txt pins no version of $1"
  echo "v$v"
}

# Tool lines of the manifest (comments and blank lines dropped).
tools() { grep -v -e '^#' -e '^[[:space:]]*$' "$manifest"; }

# The key reads tools/engine/go/ as engine/, the modules' folder before they moved under the tool
# that builds them, so the move changed no key and no built cache went stale.
as_before_move() { sed 's#tools/engine/go/#engine/#g'; }

cache_key() {
  {
    go version
    as_before_move <"$manifest"
    tools | cut -f2 | sort -u | while read -r req; do echo "$req $(pin_of "$req")"; done
    find "$modules" -name 'go.mod' -o -name 'go.sum' -o -name '*.go' | LC_ALL=C sort | while read -r f; do
      echo "${f#"$repo"/}" | as_before_move
      cat "$f"
    done
  } | sha256sum | cut -c1-12
}

out_dir() { echo "$cache_root/$(pin_of pulumi | cut -c2-)-$(cache_key)"; }

# A one-line reason from `go mod download -json` output, or nothing when the module was had.
download_error() {
  sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$1" |
    sed -e 's/\\n\\t/ /g' -e 's/\\t/ /g' -e 's/\\n/ /g' -e 's/\\"/"/g' \
      -e 's#reading \(https*://[^/]*\)/[^ ]*: #\1 answered #' -e 's/ server response:/:/' \
      -e 's#: invalid version: git ls-remote .*\(fatal: .*\)#: not on the proxy, and its fall-back to VCS failed (\1)#' |
    head -n1
}

# True when a download error means "this version is not to be had here" rather than a fault:
# the proxy's 403/404/410, or its fall-back to a VCS host this machine cannot reach.
not_served() {
  grep -qE '40[34] Not Found|403 Forbidden|410 Gone|not available|unknown revision|invalid version|Could not resolve host|no matching versions' <<<"$1"
}

# A failed `go mod download` of a tool's module: BLOCKED when the proxy does not serve that
# version (counted missing), FAILED on any other error.
refused_download() {
  local name=$1 want=$2 module=$3 out=$4 doing=$5 err
  err=$(download_error "$out")
  [ -n "$err" ] || err=$(head -n1 <<<"$out")
  if not_served "$err"; then
    note BLOCKED "$name" "$want not available: $err"
    missing=$((missing + 1))
  else
    note FAILED "$name" "unexpected error $doing $module@$want: $err"
    failed=$((failed + 1))
  fi
}

results=()
missing=0
failed=0
note() { results+=("$(printf '%-8s %-28s %s' "$1" "$2" "$3")"); }

build_go() {
  local name=$1 want=$2 module=$3 package=$4 versionvar=$5 bin=$6 logs=$7
  local moddir=$modules/$name got out ldflags=""
  if [ ! -f "$moddir/go.mod" ]; then
    if out=$(go mod download -json "$module@$want" 2>&1); then
      note MISSING "$name" "$module@$want is served now, but tools/engine/go/$name/go.mod does not exist yet (see tools/engine/README.md)"
      missing=$((missing + 1))
      return
    fi
    refused_download "$name" "$want" "$module" "$out" probing
    return
  fi
  got=$(go list -C "$moddir" -m -f '{{.Version}}' "$module") ||
    { note FAILED "$name" "tools/engine/go/$name/go.mod does not resolve $module"; failed=$((failed + 1)); return; }
  local label=$got
  [ "$got" = "$want" ] || label="$got (OFF-PIN: requirements pin $want; see tools/engine/README.md)"
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.version" 2>/dev/null)" = "$got" ]; then
    note cached "$name" "$label"
    return
  fi
  [ "$versionvar" = "-" ] || ldflags="-X $versionvar=$got"
  go_build "$name" "$moddir" "$package" "$ldflags" "$got" "$label" "$bin" "$logs"
}

# `go build` of one package into bin/, atomically; records `version` beside the binary.
go_build() {
  local name=$1 moddir=$2 package=$3 ldflags=$4 version=$5 label=$6 bin=$7 logs=$8 t0
  echo "engine: building $name $label (log: $logs/$name.log)" >&2
  t0=$(date +%s)
  if go build -C "$moddir" -trimpath -ldflags "$ldflags" -o "$bin/.$name.partial" "$package" >"$logs/$name.log" 2>&1; then
    mv -f "$bin/.$name.partial" "$bin/$name"
    echo "$version" >"$bin/.$name.version"
    note built "$name" "$label in $(($(date +%s) - t0)) s"
  else
    rm -f "$bin/.$name.partial"
    tail -n 20 "$logs/$name.log" >&2
    note FAILED "$name" "go build failed (see $logs/$name.log)"
    failed=$((failed + 1))
  fi
}

# Our own program inside an engine module (kind "local"): built with that module's go.mod, so
# it uses exactly the dependency versions of the tool built from it (policy-calls: the CLI's sdk).
build_local() {
  local name=$1 moddir=$modules/$2 package=$3 bin=$4 logs=$5 sdk
  [ -f "$moddir/go.mod" ] || { note FAILED "$name" "tools/engine/go/$2/go.mod does not exist"; failed=$((failed + 1)); return; }
  sdk=$(go list -C "$moddir" -m -f '{{.Version}}' github.com/pulumi/pulumi/sdk/v3) ||
    { note FAILED "$name" "tools/engine/go/$2/go.mod does not resolve sdk/v3"; failed=$((failed + 1)); return; }
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.version" 2>/dev/null)" = "$sdk" ]; then
    note cached "$name" "with sdk/v3 $sdk"
    return
  fi
  go_build "$name" "$moddir" "$package" "" "$sdk" "with sdk/v3 $sdk" "$bin" "$logs"
}

# A provider plugin built from an upstream source tree (kind "source": a served module or an
# archive in ../shared/vendor), prepared and built by tools/engine/sources.py.
build_source() {
  local name=$1 bin=$2 logs=$3 line
  export GOMODCACHE GOCACHE
  if line=$(python3 "$repo/tools/engine/sources.py" build "$name" "$bin" "$logs"); then
    results+=("$line")
  else
    results+=("$line")
    failed=$((failed + 1))
  fi
}

copy_files() {
  local name=$1 want=$2 module=$3 files=$4 bin=$5
  local out dir f
  if [ -f "$bin/.$name.version" ] && [ "$(cat "$bin/.$name.version")" = "$want" ]; then
    note cached "$name" "$want"
    return
  fi
  if ! out=$(go mod download -json "$module@$want" 2>&1); then
    refused_download "$name" "$want" "$module" "$out" downloading
    return
  fi
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$out")
  [ -d "$dir" ] || { note FAILED "$name" "no module directory for $module@$want"; failed=$((failed + 1)); return; }
  IFS=, read -r -a list <<<"$files"
  for f in "${list[@]}"; do
    [ -f "$dir/$f" ] || { note FAILED "$name" "$module@$want has no $f"; failed=$((failed + 1)); return; }
    install -m 0755 "$dir/$f" "$bin/$(basename "$f")"
  done
  echo "$want" >"$bin/.$name.version"
  note built "$name" "$want (${list[*]##*/})"
}

report() {
  local dir=$1 r
  echo "engine bin: $dir/bin"
  for r in "${results[@]}"; do echo "  $r"; done
}

run_build() {
  local require_all=0 dir name req kind module package versionvar want only
  if [ "${1:-}" = "--require-all" ]; then require_all=1; shift; fi
  only=" $* "
  dir=$(out_dir)
  mkdir -p "$dir/bin" "$dir/logs" "$GOMODCACHE" "$GOCACHE"
  exec 9>"$cache_root/.lock"
  flock 9
  while IFS=$'\t' read -r name req kind module package versionvar; do
    [ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || continue
    want=$(pin_of "$req")
    case "$kind" in
      go) build_go "$name" "$want" "$module" "$package" "$versionvar" "$dir/bin" "$dir/logs" ;;
      files) copy_files "$name" "$want" "$module" "$package" "$dir/bin" ;;
      local) build_local "$name" "$module" "$package" "$dir/bin" "$dir/logs" ;;
      source) build_source "$name" "$dir/bin" "$dir/logs" ;;
      *) die "tools/engine/tools.tsv: unknown kind '$kind' for $name" ;;
    esac
  done < <(tools)
  report "$dir" | tee "$dir/report.txt"
  [ "$failed" -eq 0 ] || exit 1
  [ "$require_all" -eq 0 ] || [ "$missing" -eq 0 ] || exit 3
}

run_status() {
  local dir name v
  dir=$(out_dir)
  echo "engine bin: $dir/bin"
  while IFS=$'\t' read -r name _; do
    v=$(cat "$dir/bin/.$name.version" 2>/dev/null || true)
    printf '  %-8s %s\n' "${v:-absent}" "$name"
  done < <(tools)
}

case "${1:-}" in
  build) shift; run_build "$@" ;;
  status) run_status ;;
  path) echo "$(out_dir)/bin" ;;
  *) echo "usage: $0 build [--require-all] [TOOL...] | status | path" >&2; exit 2 ;;
esac
