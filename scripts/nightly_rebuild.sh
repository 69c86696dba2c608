#!/usr/bin/env bash
# Nightly rebuild of a simkit index from a folder of reports, with a log and a JSON report per run.
#
#   scripts/nightly_rebuild.sh [SOURCES...]
#
# Settings (environment):
#   SIMKIT_INDEX     index directory                              [indexes/default]
#   SIMKIT_SOURCES   report folder(s), used when no SOURCES given [reports]
#   SIMKIT_KEEP      versions to keep                             [3]
#   SIMKIT_LOG_DIR   where rebuild.log and the JSON reports go    [logs]
#   SIMKIT_LOG_KEEP  JSON reports to keep                         [30]
#   SIMKIT           the simkit command                           [simkit, else python3 -m simkit]
#
# Exit status: 0 when a new version was published or nothing changed; otherwise simkit's code
# (4: the new version failed validation and the previous one still serves; 5: another rebuild
# is running; 1: an error, or a source folder that could not be read, whose reports were kept;
# see the log).
set -uo pipefail

index="${SIMKIT_INDEX:-indexes/default}"
keep="${SIMKIT_KEEP:-3}"
log_dir="${SIMKIT_LOG_DIR:-logs}"
log_keep="${SIMKIT_LOG_KEEP:-30}"
if [ -n "${SIMKIT:-}" ]; then
    read -r -a simkit <<<"$SIMKIT"
elif command -v simkit >/dev/null 2>&1; then
    simkit=(simkit)
else
    simkit=(python3 -m simkit)
fi
if [ "$#" -gt 0 ]; then
    sources=("$@")
else
    read -r -a sources <<<"${SIMKIT_SOURCES:-reports}"
fi

mkdir -p "$log_dir"
stamp="$(date -u +%Y%m%dT%H%M%S.%NZ)"  # two runs in one second keep both reports
report="$log_dir/rebuild-$stamp.json"
log="$log_dir/rebuild.log"

echo "$(date -u +%FT%TZ) nightly: rebuilding $index from ${sources[*]} (keep $keep)" >>"$log"
"${simkit[@]}" rebuild "${sources[@]}" --index "$index" --keep "$keep" --json --verbose >"$report" 2>>"$log"
code=$?
case "$code" in
    0) outcome="published a new version" ;;
    3) outcome="nothing changed" ;;
    4) outcome="VALIDATION FAILED; the previous version still serves" ;;
    5) outcome="skipped: another rebuild is running" ;;
    *) outcome="FAILED" ;;
esac
echo "$(date -u +%FT%TZ) nightly: exit $code: $outcome (report $report)" >>"$log"

# Keep the newest $log_keep JSON reports.
ls -1t "$log_dir"/rebuild-*.json 2>/dev/null | tail -n +"$((log_keep + 1))" | while read -r old; do rm -f -- "$old"; done

case "$code" in
    0 | 3) exit 0 ;;
    *) echo "simkit nightly rebuild of $index: $outcome; see $log" >&2; exit "$code" ;;
esac
