#!/bin/sh
# Turns schema/NNN-*.sql into a C array, one migration per file, in order.
# The migration numbered N brings the database to PRAGMA user_version N.
set -e
echo "/* Generated from the schema SQL files by schema/embed.sh: do not edit. */"
echo "static const char *const schema_migrations[] = {"
for f in "$@"; do
	printf '\t/* %s */\n' "$(basename "$f")"
	awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); sub(/\r$/, ""); printf "\t\"%s\\n\"\n", $0 }' "$f"
	printf '\t,\n'
done
echo "};"
