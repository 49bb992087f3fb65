#!/usr/bin/env bash
# make demo: mirror a multi-platform index between two local registries with terraform, show
# that the index digest is kept, the plan-time warning, and a drift check with its repair.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
VERSION=${VERSION:-0.1.0}
WORK=$PWD/.demo
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say()    { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
note()   { printf '   %s\n' "$*"; }
indent() { sed '/./s/^/   /'; }
# warnings <file>: the warnings of a plan, each with its full text, without Terraform's
# "with ... / on main.tf line ..." context lines.
warnings() {
  awk '/^(Warning|Error): /   { show = ($1 == "Warning:"); if (show) print; context = 1; next }
       !show                  { next }
       context && /^$/        { next }
       context && /^  (with |on |[0-9]+: )/ { next }
                              { context = 0; print ($0 == "" ? "" : "  " $0) }' "$1"
}

# start_registry runs in $(...), a subshell, so the registries' process ids go to a file.
pidfile=$WORK/registry.pids
cleanup() {
  if [ -f "$pidfile" ]; then
    while read -r p; do kill "$p" 2>/dev/null || true; done <"$pidfile"
    rm -f "$pidfile"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK" && mkdir -p "$WORK"
go build -o "$WORK/demotool" ./internal/demotool
tool="$WORK/demotool"

# A filesystem mirror holding only our freshly built provider, so `terraform init` works offline.
plugin_dir="$WORK/plugins/registry.terraform.io/zarf-dev/zarf/$VERSION/$(go env GOOS)_$(go env GOARCH)"
mkdir -p "$plugin_dir"
cp "$BIN/terraform-provider-zarf" "$plugin_dir/terraform-provider-zarf_v$VERSION"
cat > "$WORK/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$WORK/plugins"
    include = ["zarf-dev/zarf"]
  }
}
RC
export TF_CLI_CONFIG_FILE="$WORK/terraformrc"

start_registry() { # name -> prints host:port
  local name=$1 port
  port=$("$tool" port)
  mkdir -p "$WORK/$name"
  cat > "$WORK/$name/config.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $WORK/$name/data }
  delete: { enabled: true }
http: { addr: 127.0.0.1:$port, secret: demo }
YML
  OTEL_TRACES_EXPORTER=none "$BIN/registry" serve "$WORK/$name/config.yml" >"$WORK/$name/log" 2>&1 &
  echo $! >>"$pidfile"
  "$tool" wait "127.0.0.1:$port" || { echo "registry $name did not start; see $WORK/$name/log" >&2; return 1; }
  echo "127.0.0.1:$port"
}

say "Starting two local registries (CNCF distribution v3)"
SRC=$(start_registry upstream)
DST=$(start_registry internal)
note "upstream registry: $SRC    internal registry: $DST"

say "Pushing a 6-platform image index to the upstream registry"
note "its JSON was written by hand (odd key order and spacing): only a byte-for-byte copy keeps its digest"
SRC_DIGEST=$("$tool" push-index "$SRC/demo/app:1.0")
note "$SRC/demo/app:1.0 -> $SRC_DIGEST"

cat > "$WORK/main.tf" <<TF
terraform {
  required_providers {
    zarf = { source = "zarf-dev/zarf" }
  }
}

provider "zarf" {
  insecure_registries = ["$SRC", "$DST"] # plain HTTP only for these two local hosts
}

resource "zarf_image_mirror" "app" {
  source = "$SRC/demo/app:1.0"
  target = "$DST/mirror/app"
}

output "ref" {
  value = zarf_image_mirror.app.ref
}
TF
cd "$WORK"
tf() { terraform "$@" -no-color; }

say "terraform init (the provider comes from a local filesystem mirror)"
tf init -input=false >/dev/null && note "initialised"

say "terraform plan: the digest is known before anything is copied, and a warning gives the size"
tf plan -input=false -out=plan.tfplan >plan.txt 2>&1 || { cat plan.txt; exit 1; }
# The top-level computed values (6 spaces deep in the plan), not those of each manifest.
grep -E '^      \+ (source_digest|digest|ref|size) +=' plan.txt | sed 's/^    //' | indent || true
grep -qF "digest        = \"$SRC_DIGEST\"" plan.txt && note "digest = the upstream index digest: the index will be copied byte for byte"
note "(the whole plan, with one manifests entry per platform, is in .demo/plan.txt)"
echo
warnings plan.txt | indent

say "terraform apply"
tf apply -input=false plan.tfplan | grep -E 'Creation complete|Apply complete|ref ='

DST_DIGEST=$("$tool" digest "$DST/mirror/app:1.0")
say "Digests side by side"
printf '   %-10s %-45s %s\n' "upstream" "$SRC/demo/app:1.0" "$SRC_DIGEST"
printf '   %-10s %-45s %s\n' "internal" "$DST/mirror/app:1.0" "$DST_DIGEST"
[ "$SRC_DIGEST" = "$DST_DIGEST" ] && note "identical: manifests pinned to @$SRC_DIGEST work against the internal registry" \
  || { echo "digests differ" >&2; exit 1; }

say "Drift: someone overwrites $DST/mirror/app:1.0 with another image"
"$tool" push-image "$DST/mirror/app:1.0"
note "the tag now points at $("$tool" digest "$DST/mirror/app:1.0")"

say "terraform plan -detailed-exitcode (what a CI drift check runs)"
set +e
tf plan -input=false -detailed-exitcode >plan.out 2>&1
code=$?
set -e
sed -n '/Terraform will perform/,/^Plan:/p' plan.out | grep -E '^  # |^      [~+-] |^Plan:' | indent
echo
warnings plan.out | indent
echo
note "exit code: $code (2 = changes: the drift is a planned repair)"
[ "$code" = 2 ] || { cat plan.out; exit 1; }

say "terraform apply repairs it"
tf apply -input=false -auto-approve | grep -E 'Modifications complete|Apply complete'
note "$DST/mirror/app:1.0 -> $("$tool" digest "$DST/mirror/app:1.0")"
set +e
tf plan -input=false -detailed-exitcode >/dev/null 2>&1
code=$?
set -e
note "terraform plan -detailed-exitcode: exit code $code (0 = no drift)"
[ "$code" = 0 ] || exit 1

say "Done. The workspace is in .demo/ (registries stopped)."
