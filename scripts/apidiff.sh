#!/usr/bin/env bash
# apidiff.sh: compares the exported API of each public package with the last release tag,
# with golang.org/x/exp's apidiff, and fails when a change is incompatible while the
# changelog's unreleased section lists no breaking change. Without a tag it has nothing
# to compare against, and says so. The packages compared are the users': not internal/,
# cmd/, testkit/ (this module's own test kit) or relay/source (unstable by its doc).
set -euo pipefail
cd "$(dirname "$0")/.."
APIDIFF="golang.org/x/exp/cmd/apidiff@v0.0.0-20261113113407-e3970619a1a4"

tag=$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null) || {
	echo "apidiff: no release tag yet: nothing to compare the API with"
	exit 0
}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --quiet --detach "$work/old" "$tag"

pkgs=$(go list ./... | grep -v -e '/internal/' -e '/internal$' -e '/cmd/' -e '/testkit/' -e '/relay/source$' -e '/examples/')
incompatible=0
for pkg in $pkgs; do
	file="$work/$(echo "$pkg" | tr / _).export"
	if ! (cd "$work/old" && go run "$APIDIFF" -w "$file" "$pkg" 2>/dev/null); then
		echo "apidiff: $pkg is new since $tag"
		continue
	fi
	out=$(go run "$APIDIFF" -incompatible "$file" "$pkg")
	if [ -n "$out" ]; then
		printf 'apidiff: %s, incompatible with %s:\n%s\n' "$pkg" "$tag" "$out"
		incompatible=1
	fi
done
if [ "$incompatible" = 1 ]; then
	# The unreleased section is everything above the first released version's heading.
	unreleased=$(awk '/^## v[0-9]/ && !/unreleased/ {exit} {print}' CHANGELOG.md)
	if grep -q '^### Breaking' <<<"$unreleased"; then
		echo "apidiff: the changes above are listed as breaking in CHANGELOG.md"
	else
		echo "apidiff: incompatible changes since $tag: list them under '### Breaking' in CHANGELOG.md's unreleased section, or keep the API"
		exit 1
	fi
fi
echo "apidiff: compared $(echo "$pkgs" | wc -w) packages with $tag"
