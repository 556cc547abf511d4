#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# First run of `make run`: make a site that takes files at once. Creates
# the data directory DIR with its log and vault (vitrine init), a policy
# key and a signed residency policy (version 1) that maps region EU to
# this site, RU to a second, fictional site (so 421 can be seen) and
# leaves other regions unmapped (451), adopts it, and makes a submitter
# token (customer demo-eu, region EU) and an analyst token, kept in
# DIR/submitter.token and DIR/analyst.token (mode 0600).
# Usage: sh scripts/first-run.sh VITRINE DIR ORIGIN JURISDICTION URL
set -eu
V=$1
DIR=$2
ORIGIN=$3
J=$4
URL=$5

"$V" init --dir "$DIR" --origin "$ORIGIN" --jurisdiction "$J" >/dev/null
umask 077
"$V" key generate policy.vitrine.localhost --out "$DIR/policy.key" >/dev/null
{
	echo "vitrine/1 policy"
	echo "version 1"
	echo "site $J $URL $(cat "$DIR/log.vkey")"
	echo "site RU-MOW https://mow.vitrine.example mow.vitrine.example+73fbdeb6+ASuQAYKCLl/SWrQnaZgNZsecA1z9zsAsCawA3AcmBiXj"
	echo "region EU $J"
	echo "region RU RU-MOW"
} >"$DIR/policy.txt"
"$V" policy sign "$DIR/policy.txt" --key "$DIR/policy.key" -o "$DIR/policy.signed"
"$V" policy adopt "$DIR/policy.signed" --dir "$DIR" --vkey "$DIR/policy.key.vkey" >/dev/null
token() {
	"$V" token create --dir "$DIR" "$@" | grep -o 'vt_[0-9a-f]\{64\}' | head -n 1
}
token --role submitter --name demo-submitter --tenant demo-eu --region EU >"$DIR/submitter.token"
token --role analyst --name demo-analyst >"$DIR/analyst.token"
echo "made $DIR: jurisdiction $J, policy version 1 (EU here, RU elsewhere), tokens in $DIR/*.token"
