#!/bin/sh
# Copy the console's browser libraries from node_modules (versions pinned in
# package.json / package-lock.json) into gateway/web/ui/vendor/, with their licences.
# The copies are committed, so `make run` needs no npm; `make vendor` refreshes them.
set -eu
cd "$(dirname "$0")/.."
NM=node_modules
OUT=${VENDOR_OUT:-gateway/web/ui/vendor}  # another folder: tests compare the copies
mkdir -p "$OUT"

# copy SRC DEST: the file without its sourceMappingURL line (the maps are not shipped).
copy() {
  grep -v '^//# sourceMappingURL=' "$NM/$1" > "$OUT/$2"
}

copy marked/lib/marked.esm.js marked.js
copy dompurify/dist/purify.es.mjs purify.js
copy @highlightjs/cdn-assets/es/highlight.min.js highlight.js
copy @highlightjs/cdn-assets/styles/github.min.css highlight-github.css
copy chart.js/dist/chart.umd.min.js chart.js

cp "$NM/marked/LICENSE" "$OUT/LICENSE-marked.txt"
cp "$NM/dompurify/LICENSE" "$OUT/LICENSE-dompurify.txt"
cp "$NM/@highlightjs/cdn-assets/LICENSE" "$OUT/LICENSE-highlight.js.txt"
cp "$NM/chart.js/LICENSE.md" "$OUT/LICENSE-chart.js.txt"

{
  echo "Browser libraries of the web console, copied by scripts/vendor-web.sh (make vendor)."
  echo "Do not edit these files: change the version in package.json and run make vendor."
  echo
  for pkg in marked dompurify @highlightjs/cdn-assets chart.js; do
    version=$(node -p "require('./$NM/$pkg/package.json').version")
    echo "$pkg $version"
  done
} > "$OUT/VERSIONS.txt"
