#!/bin/sh
# As the official image does: only variables set in the environment are substituted, so
# nginx's own $variables stay as they are.
set -eu
templates=/etc/nginx/templates
if [ -d "$templates" ]; then
    defined="$(env | cut -d= -f1 | sed 's/^/${/; s/$/}/' | tr '\n' ' ')"
    for template in "$templates"/*.template; do
        [ -e "$template" ] || continue
        name="$(basename "$template" .template)"
        envsubst "$defined" < "$template" > "/etc/nginx/conf.d/$name"
    done
fi
exec "$@"
