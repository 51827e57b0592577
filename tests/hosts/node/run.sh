#!/usr/bin/env bash
# The npm packages in Node hosts: packs the tarballs (scripts/npm-pack),
# installs them into fresh folders outside the repository, and runs there,
# with node's test runner:
#   - in better-sqlite3 12, node-sqlite3 (the sqlite3 package, built against
#     the system SQLite) and libsql: the seed story and a feed/outbox smoke
#     test, one host per process;
#   - the errors on a platform without a prebuilt extension, the TypeScript
#     types, and README.md's Node snippet;
#   - in a second folder installed with --omit=optional: the error naming the
#     missing platform package.
# Usage: bash tests/hosts/node/run.sh [target/release/libsqlite_triggers[.so]]
#
# better-sqlite3 and sqlite3 are built from source by node-gyp (their
# prebuilt binaries are downloads npm does not make), which takes a minute or
# two: the hosts are installed once into target/node-hosts/ and copied into
# each fresh folder, and installed again when hosts.json or Node changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
so=${1:-$root/target/release/libsqlite_triggers}
so=${so%.so}.so
cd "$root"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "run.sh: no $tool on PATH: the Node host tests need Node 20 or newer with npm" >&2; exit 1; }
done

bash scripts/npm-pack "$so"
version=$(node -p "require('./bindings/node/sqlite-triggers/package.json').version")
top=target/npm/sqlite-triggers-$version.tgz
platform=target/npm/sqlite-triggers-linux-x64-$version.tgz

# The hosts, built once per hosts.json and Node version.
cache=target/node-hosts
stamp="$(cat "$here/hosts.json") node $(node --version)"
if [ ! -d "$cache/node_modules" ] || [ "$(cat "$cache/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "installing the Node hosts into $cache (node-gyp builds better-sqlite3 and sqlite3)"
  rm -rf "$cache" "$cache.tmp"
  mkdir -p "$cache.tmp"
  cp "$here/hosts.json" "$cache.tmp/package.json"
  # Node's headers for node-gyp come with the nodejs package (/usr/include/node);
  # sqlite3 links the system SQLite (libsqlite3-dev).
  [ -e /usr/include/node/node.h ] && export npm_config_nodedir=/usr
  (cd "$cache.tmp" &&
    npm_config_build_from_source=true npm_config_sqlite=/usr \
      npm install --no-audit --no-fund --loglevel=error)
  echo "$stamp" > "$cache.tmp/stamp"
  mv "$cache.tmp" "$cache"
fi

fresh=$(mktemp -d "${TMPDIR:-/tmp}/sqlite-triggers-npm.XXXXXX")
trap 'rm -rf "$fresh"' EXIT

# The folder of an application using the package and the hosts: it gets
# copies of the tarballs, the tests and their fixtures, nothing of the repo.
app=$fresh/app
mkdir -p "$app"
cp "$top" "$platform" "$here"/*.test.* "$here/story.cjs" "$root/examples/seed_schema.sql" "$root/README.md" "$app/"
cp -r "$here/types" "$app/"
cp -a "$cache/node_modules" "$app/"
node -e '
  const hosts = require(process.argv[1]).dependencies;
  const [top, platform] = process.argv.slice(2);
  const pkg = { private: true, dependencies: { ...hosts,
    "sqlite-triggers": `file:${top}`, "sqlite-triggers-linux-x64": `file:${platform}` } };
  require("fs").writeFileSync("package.json", JSON.stringify(pkg, null, 2));
' "$here/hosts.json" "$(basename "$top")" "$(basename "$platform")"
mv package.json "$app/"
(cd "$app" && npm install --offline --no-audit --no-fund --loglevel=error)
rm "$app/missing-package.test.cjs"

# The folder of one who installed without optional dependencies.
bare=$fresh/bare
mkdir -p "$bare"
cp "$top" "$here/missing-package.test.cjs" "$bare/"
printf '{ "private": true, "dependencies": { "sqlite-triggers": "file:%s" } }\n' "$(basename "$top")" > "$bare/package.json"
(cd "$bare" && npm install --offline --omit=optional --no-audit --no-fund --loglevel=error)

status=0
(cd "$app" && node --test better-sqlite3.test.cjs node-sqlite3.test.cjs libsql.test.mjs \
  platform.test.mjs types.test.cjs readme.test.cjs) || status=1
(cd "$bare" && node --test missing-package.test.cjs) || status=1
exit $status
