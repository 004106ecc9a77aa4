#!/usr/bin/env bash
# make bench: not built yet; its issue adds it.
echo "make bench: nothing to run yet (its issue has not landed)"
