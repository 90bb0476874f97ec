#!/usr/bin/env bash
# Builds ParallelKit's documentation — the DocC catalog Sources/ParallelKit/ParallelKit.docc and
# every public symbol's `///` comment — into a static web site, with the toolchain alone:
#
#     Scripts/build-docs.sh [OUTPUT]      # OUTPUT defaults to .build-docs/site
#
# 1. `swift build` of the ParallelKit target with symbol graphs emitted (in its own scratch folder,
#    .build-docs/, so the flags do not invalidate the normal build);
# 2. `docc convert` of the catalog with ParallelKit's symbol graph (it holds the symbols of every
#    module ParallelKit re-exports), static hosting, and warnings treated as errors: a broken
#    ``link`` or an ambiguous symbol reference fails the build.
#
# To read it: python3 -m http.server --bind 127.0.0.1 --directory OUTPUT 8000, then open
# http://127.0.0.1:8000/documentation/parallelkit/
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
output=${1:-$root/.build-docs/site}
scratch=$root/.build-docs
graphs_all=$scratch/symbol-graphs/all
graphs=$scratch/symbol-graphs/ParallelKit

# docc ships with the toolchain, next to swift; xcrun does not exist on Linux.
docc=$(command -v docc || true)
if [[ -z "$docc" ]]; then
    swift_bin=$(dirname "$(readlink -f "$(command -v swift)")")
    docc=$swift_bin/docc
fi
if [[ ! -x "$docc" ]]; then
    echo "build-docs: docc not found (looked on PATH and next to swift); it ships with Swift 6 toolchains" >&2
    exit 1
fi

rm -rf "$graphs_all" "$graphs"
mkdir -p "$graphs_all" "$graphs"
# Symbol graphs are written when a module compiles, so ParallelKit must compile on every run:
# touching its sources makes it (and only it, of the cached modules) compile again. Its graph is
# read from the re-exported modules at that moment, so their latest doc comments are in it.
touch "$root"/Sources/ParallelKit/*.swift
swift build --scratch-path "$scratch/build" --target ParallelKit \
    -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs_all"
# ParallelKit's graph includes what it re-exports; the other modules' graphs would document the
# same symbols a second time under another module.
cp "$graphs_all"/ParallelKit.symbols.json "$graphs"/
for extension in "$graphs_all"/ParallelKit@*.symbols.json; do
    [[ -e "$extension" ]] && cp "$extension" "$graphs"/
done

rm -rf "$output"
mkdir -p "$(dirname "$output")"
"$docc" convert "$root/Sources/ParallelKit/ParallelKit.docc" \
    --additional-symbol-graph-dir "$graphs" \
    --fallback-display-name ParallelKit \
    --fallback-bundle-identifier org.parallelkit.ParallelKit \
    --transform-for-static-hosting \
    --warnings-as-errors \
    --output-path "$output"

echo "build-docs: site in $output"
echo "build-docs: python3 -m http.server --bind 127.0.0.1 --directory '$output' 8000, then open http://127.0.0.1:8000/documentation/parallelkit/"
