#!/usr/bin/env python3
"""openapi_to_cpp.py YAML CPP: the OpenAPI document of the API (api/openapi.yaml) as compact JSON in
a C++ source file, so that the server can answer GET /openapi.json without reading a file. Run by
the build (api/CMakeLists.txt); the output is generated code, never committed. Needs PyYAML
(Debian python3-yaml)."""

import json
import sys

import yaml

DELIMITER = "tally_openapi"


def main(source, target):
    with open(source, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    if ")" + DELIMITER + '"' in text:
        sys.exit("openapi_to_cpp: the document contains the raw string delimiter")
    with open(target, "w", encoding="utf-8") as f:
        f.write("// Generated from api/openapi.yaml by api/openapi_to_cpp.py: do not edit.\n")
        f.write('#include "api/openapi.h"\n\nnamespace tally::api {\n\n')
        f.write("std::string_view openapi_json() {\n")
        f.write('  static constexpr char text[] = R"' + DELIMITER + "(" + text + ")" + DELIMITER + '";\n')
        f.write("  return std::string_view(text, sizeof text - 1);\n}\n\n}  // namespace tally::api\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: openapi_to_cpp.py YAML CPP")
    main(sys.argv[1], sys.argv[2])
