#!/usr/bin/env bash
# Placeholder until the model runtime issue lands; fetches nothing yet.
exit 0
