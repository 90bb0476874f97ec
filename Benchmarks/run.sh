#!/usr/bin/env bash
# Builds and runs ParallelKit's benchmark, with joblib side by side.
#
#   Benchmarks/run.sh              full run (about 5 minutes on 2 cores)
#   Benchmarks/run.sh --quick      small sizes, 1 repetition: a smoke test (CI)
#   Benchmarks/run.sh --no-joblib  without the joblib rows
#   Benchmarks/run.sh --no-rayon   without building the Rayon program (its rows say n/a)
#
# Any other flag goes to the ParallelBenchmarks executable (see --help). joblib is installed,
# pinned, into Benchmarks/.venv-bench (git-ignored). If that fails the Swift table still prints,
# with "n/a" in the joblib rows.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here" || exit 1

JOBLIB_VERSION="1.6.0"
VENV="$here/.venv-bench"

want_joblib=1
for arg in "$@"; do
    [ "$arg" = "--no-joblib" ] && want_joblib=0
done

python_args=()
if [ "$want_joblib" = 1 ]; then
    if ! "$VENV/bin/python" -c "import joblib, sys; sys.exit(joblib.__version__ != '$JOBLIB_VERSION')" 2>/dev/null; then
        echo "run.sh: installing joblib==$JOBLIB_VERSION into $VENV" >&2
        if python3 -m venv "$VENV" >&2 &&
            "$VENV/bin/pip" install --quiet --disable-pip-version-check --retries 2 --timeout 30 \
                "joblib==$JOBLIB_VERSION" >&2; then
            :
        else
            echo "run.sh: could not install joblib; its rows will say n/a" >&2
        fi
    fi
    [ -x "$VENV/bin/python" ] && python_args=(--python "$VENV/bin/python")
fi

# Rayon beside ParallelKit (section 5): built offline from Debian's packaged crates into
# rayon/target (git-ignored). Without cargo or librust-rayon-dev its rows say n/a.
want_rayon=1
for arg in "$@"; do
    [ "$arg" = "--no-rayon" ] && want_rayon=0
done
if [ "$want_rayon" = 1 ]; then
    if ! command -v cargo > /dev/null 2>&1; then
        echo "run.sh: Rayon rows: n/a (no cargo on PATH)" >&2
    elif ! compgen -G "/usr/share/cargo/registry/rayon-[0-9]*" > /dev/null; then
        echo "run.sh: Rayon rows: n/a (no /usr/share/cargo/registry/rayon-*: apt-get install librust-rayon-dev)" >&2
    else
        echo "run.sh: cargo build --release (Benchmarks/rayon, offline)" >&2
        (cd "$here/rayon" && cargo build --release --quiet >&2) ||
            echo "run.sh: Rayon rows: n/a (the Rayon program did not build)" >&2
    fi
fi
args=()
for arg in "$@"; do
    [ "$arg" = "--no-rayon" ] || args+=("$arg")
done
set -- "${args[@]+"${args[@]}"}"

echo "run.sh: swift build -c release --scratch-path .build-bench" >&2
swift build -c release --scratch-path .build-bench >&2 || exit 1
bin="$(swift build -c release --scratch-path .build-bench --show-bin-path)/ParallelBenchmarks"

exec "$bin" "${python_args[@]}" "$@"
