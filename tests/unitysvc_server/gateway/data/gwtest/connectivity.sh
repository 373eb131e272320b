#!/bin/sh
# Connectivity test: any request answers.
curl -sf "${BASE_URL}"
