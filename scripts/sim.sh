#!/usr/bin/env bash
# make sim: not built yet; its issue adds it.
echo "make sim: nothing to run yet (its issue has not landed)"
