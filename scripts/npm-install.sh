#!/usr/bin/env bash
# npm ci, or, when npm refuses the lock file, an install that follows it.
#
# npm 11's `npm ci` wants a lock entry for every platform-specific optional package (Biome's and Rollup's
# binaries for Android, macOS, Windows, ...). Registry mirrors that serve only this platform's packages
# answer 404 for the others, so no lock file made behind them satisfies `npm ci`. `npm install` with the
# same lock installs the same versions; --no-save keeps the lock file untouched.
set -uo pipefail
cd "$(dirname "$0")/.."
# A dependency on another workspace at a version it does not have sends npm to the registry for it (a 404
# naming neither file): say which line first.
node scripts/check-workspace-deps.mjs || exit 1
log=$(mktemp)
if npm ci --no-audit --no-fund >"$log" 2>&1; then
  tail -n 2 "$log"
  rm -f "$log"
  exit 0
fi
grep -m 2 -E "npm error (code|Missing)" "$log" | sed 's/^/  /'
echo "npm ci refused the lock file (see scripts/npm-install.sh); installing from it with npm install"
rm -f "$log"
exec npm install --no-audit --no-fund --no-save
