#!/bin/sh
# Connectivity test: the bench upstream answers any POST with a small JSON body.
curl -sf -X POST "${BASE_URL}/chat/completions" -H "Authorization: Bearer ${API_KEY}" -d '{}'
