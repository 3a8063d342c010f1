#!/bin/sh
# The packages for the end-to-end test guests: see install-deps.sh --guests.
exec "$(dirname "$0")/install-deps.sh" --guests
