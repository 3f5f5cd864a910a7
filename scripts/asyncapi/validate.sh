#!/usr/bin/env bash
# Validates AsyncAPI documents with the AsyncAPI initiative's parser
# (@asyncapi/parser from the npm registry: the official AsyncAPI 3.0 JSON
# Schema of @asyncapi/specs, then the parser's semantic rules):
#
#   bash scripts/asyncapi/validate.sh target/asyncapi/*.json
#
# Prints one line per document and "asyncapi: N passed, N failed"; exits 1
# if any document has an error, 2 on a usage or install failure.
#
# The validator is installed once per machine: `npm ci` of this directory's
# package-lock.json (exact versions and integrity hashes) into
# $KAFKA_RS_CACHE_DIR/asyncapi-validator-<hash of the lock file> (default
# ~/.cache/kafka-rs, as scripts/kafka.sh), never into the checkout. A change
# of the lock file gets a fresh directory. Needs Node 18+ and npm.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() {
    echo "asyncapi/validate.sh: $*" >&2
    exit 2
}

(($# > 0)) || die "no AsyncAPI document given (usage: validate.sh FILE.json...)"
command -v node >/dev/null 2>&1 || die "node is missing: the validator runs on Node 18+"
command -v npm >/dev/null 2>&1 || die "npm is missing: it installs @asyncapi/parser from the npm registry"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || die "Node $(node --version) is too old: @asyncapi/parser needs Node 18+"

cache_dir="${KAFKA_RS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-rs}"
lock_hash="$(sha256sum "$script_dir/package-lock.json" | cut -c1-16)"
install_dir="$cache_dir/asyncapi-validator-$lock_hash"

if [[ ! -f "$install_dir/.complete" ]]; then
    mkdir -p "$cache_dir"
    # One install per machine even when two checkouts validate at once.
    exec 9>"$install_dir.lock"
    flock 9
    if [[ ! -f "$install_dir/.complete" ]]; then
        tmp="$install_dir.partial.$$"
        rm -rf "$tmp"
        mkdir -p "$tmp"
        cp "$script_dir/package.json" "$script_dir/package-lock.json" "$tmp/"
        echo "asyncapi/validate.sh: installing @asyncapi/parser from the npm registry into $install_dir" >&2
        if ! npm ci --prefix "$tmp" --ignore-scripts --no-audit --no-fund </dev/null >&2; then
            rm -rf "$tmp"
            die "npm ci of scripts/asyncapi/package-lock.json failed (see its output above)"
        fi
        rm -rf "$install_dir"
        mv "$tmp" "$install_dir"
        touch "$install_dir/.complete"
    fi
    exec 9>&-
fi

# The script runs beside its node_modules (ES modules resolve packages from
# the importing file's directory); the documents are read from the caller's.
cp "$script_dir/validate.mjs" "$install_dir/validate-$$.mjs"
status=0
node "$install_dir/validate-$$.mjs" "$@" </dev/null || status=$?
rm -f "$install_dir/validate-$$.mjs"
exit "$status"
