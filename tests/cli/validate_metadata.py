#!/usr/bin/env python3
"""Validate metadata.json files against docs/metadata.schema.json."""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
for path in sys.argv[2:]:
    jsonschema.validate(json.load(open(path)), schema)
    print(f"ok - {path} matches the metadata schema")
